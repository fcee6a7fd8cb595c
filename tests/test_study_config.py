"""spade_lesson.evaluation.study.config: the CPU preset as the single source of the sizes, the pinned settings, the
constant learning rate, one-line errors."""

from __future__ import annotations

import pytest

from spade_lesson.evaluation.study.config import PINNED, AblationConfig, gan_config, work_folder
from spade_lesson.training.config import cpu_config


def test_the_sizes_come_from_the_cpu_preset_unless_given() -> None:
    preset, run = cpu_config(), gan_config(AblationConfig(), seed=2)
    assert (run.size, run.batch_size, run.ngf, run.spade_hidden) == (preset.size, preset.batch_size, preset.ngf,
                                                                      preset.spade_hidden)
    assert gan_config(AblationConfig(ngf=8), seed=0).ngf == 8 and run.seed == 2


def test_the_settings_the_study_depends_on_are_pinned_and_the_learning_rate_is_constant() -> None:
    run = gan_config(AblationConfig(budgets=(150, 300)), seed=0)
    assert all(getattr(run, name) == value for name, value in PINNED.items())
    assert run.decay_start is None and run.steps == 300  # no decay tied to the last budget


def test_the_recorded_training_settings_leave_out_what_does_not_change_a_number() -> None:
    training = AblationConfig().training()
    assert training["init_type"] == "xavier" and training["lr_G"] == PINNED["lr_G"]
    assert not {"out", "seed", "device", "steps", "resume"} & training.keys()


def test_another_setting_gets_another_work_folder() -> None:
    assert work_folder(AblationConfig()) != work_folder(AblationConfig(ngf=8))
    assert work_folder(AblationConfig()) == work_folder(AblationConfig(jobs=2, device="cpu"))


@pytest.mark.parametrize(("options", "message"), [
    ({"models": ("nope",)}, "models=('nope',): choose from"),
    ({"budgets": (300, 150)}, "budgets=(300, 150): pass increasing"),
    ({"seeds": ()}, "seeds=(): pass at least one"),
    ({"jobs": 0}, "jobs=0 must be at least 1"),
    ({"size": 32}, "use size >= 64"),
    ({"size": 48}, "size=48"),
])
def test_bad_settings_are_one_line_errors_naming_the_field(options, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        AblationConfig(**options)

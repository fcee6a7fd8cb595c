"""spade_lesson.evaluation.ablation: every variant in the one training loop, records per judge, resuming, verify, the
command."""

from __future__ import annotations

import json

import pytest
import torch

from spade_lesson.cli import main
from spade_lesson.cli.ablate import parse_reruns
from spade_lesson.data import Landscapes
from spade_lesson.evaluation import ablation
from spade_lesson.evaluation.ablation import (
    COMMITTED,
    JUDGES,
    MODELS,
    AblationConfig,
    build_generator,
    check_resumed_models,
    gan_config,
    initialization,
    report,
    run_ablation,
    train_model,
    verify,
)
from spade_lesson.evaluation.claims import summarize
from spade_lesson.evaluation.segmenter import load_segmenter
from spade_lesson.layers.counting import count_parameters
from spade_lesson.models.variants import VARIANTS, ConcatGenerator, InputOnlyGenerator
from spade_lesson.training.loop import SPADETrainer

TINY = {"size": 64, "steps": 2, "batch_size": 2, "ngf": 2, "spade_hidden": 4, "eval_images": 2, "segmenter_steps": 1}
RECORD = {"model", "seed", "judge_seed", "miou", "accuracy", "params", "norm_macs"}

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _tiny_split(name, root="data", split="train", size=128):
    """2-item Landscapes splits (train and val differ)."""
    return Landscapes(size=size, length=2, seed={"train": 3, "val": 4}[split])


@pytest.fixture
def tiny_data(monkeypatch):
    """load_dataset gives 2-item Landscapes splits."""
    monkeypatch.setattr(ablation, "load_dataset", _tiny_split)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["concat", "input_nonorm", "clade"])
def test_a_variant_is_trained_by_the_same_step_with_the_same_discriminator(model) -> None:
    config = gan_config(AblationConfig(size=64, ngf=4, spade_hidden=8, device="cpu"), seed=0)
    spade = SPADETrainer(config, 9, torch.device("cpu"), generator=build_generator("spade", config, 9))
    trainer = SPADETrainer(config, 9, torch.device("cpu"), generator=build_generator(model, config, 9))
    assert count_parameters(trainer.discriminator) == count_parameters(spade.discriminator)
    before = [p.detach().clone() for p in trainer.generator.parameters()]
    label = torch.randint(0, 9, (2, 64, 64))
    losses = trainer.step(label, torch.rand(2, 3, 64, 64) * 2 - 1)
    assert {"D_fake", "D_real", "G_GAN", "G_feat"} <= set(losses)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.generator.parameters()))
    assert trainer.generate(label).shape == (2, 3, 64, 64)


@pytest.mark.slow
def test_each_model_trains_through_the_training_loop_and_resumes_its_checkpoint(tmp_path) -> None:
    data = Landscapes(size=64, length=2)
    config = gan_config(AblationConfig(**TINY, work=str(tmp_path), device="cpu"), seed=0)
    first = train_model("concat", config, data, torch.device("cpu"), progress=False)
    saved = torch.load(next(tmp_path.glob("*/seed0/concat/checkpoint.pt")), weights_only=True)
    assert saved["step"] == TINY["steps"] and isinstance(first.generator, ConcatGenerator)
    again = train_model("concat", config, data, torch.device("cpu"), progress=False)  # finished: only loaded
    assert again.steps_done == TINY["steps"]
    assert all(torch.equal(a, b) for a, b in zip(first.ema.state_dict().values(), again.ema.state_dict().values()))


@pytest.mark.slow
def test_a_tiny_ablation_writes_a_record_per_run_and_judge_the_judges_and_a_figure(tiny_data, tmp_path) -> None:
    config = AblationConfig(**TINY, models=("spade", "input_nonorm"), seeds=(0, 1), judges=(0, 1),
                            out=str(tmp_path / "results"), work=str(tmp_path / "work"), device="cpu")
    document = run_ablation(config, progress=False)
    path = tmp_path / "results" / "ablation_landscapes.json"
    assert json.loads(path.read_text()) == document
    assert (tmp_path / "results" / "ablation_landscapes.png").stat().st_size > 1000
    assert sorted((run["model"], run["seed"], run["judge_seed"]) for run in document["runs"]) == sorted(
        (model, seed, judge) for model in ("spade", "input_nonorm") for seed in (0, 1) for judge in (0, 1))
    for run in document["runs"]:
        assert RECORD <= set(run) and 0.0 <= run["miou"] <= 1.0 and 0.0 <= run["accuracy"] <= 1.0
        assert run["params"] > 0 and (run["norm_macs"] > 0) == (run["model"] == "spade")
    assert [judge["seed"] for judge in document["judges"]] == [0, 1]
    for judge in document["judges"]:
        assert 0.0 <= judge["ceiling_miou"] <= 1.0
        load_segmenter(tmp_path / "results" / judge["weights"])  # the weights ship beside the results
    assert document["judges"][0]["weights"] != document["judges"][1]["weights"]
    assert document["settings"]["steps"] == 2 and "initialization" in document
    lines = report(document)  # no claim compares spade with input_nonorm: models and ceilings only
    assert lines[0].strip().startswith("spade: mIoU") and sum("real images" in line for line in lines) == 2
    assert len(lines) == 4


@pytest.mark.slow
def test_finished_runs_are_skipped_a_new_judge_scores_old_runs_and_other_settings_are_refused(
        tiny_data, tmp_path, monkeypatch) -> None:
    options = {**TINY, "models": ("spade",), "out": str(tmp_path), "work": str(tmp_path / "work"), "device": "cpu"}
    first = run_ablation(AblationConfig(**options, seeds=(0,), judges=(0,)), progress=False)
    trained = []
    original = ablation.train_model
    monkeypatch.setattr(ablation, "train_model", lambda model, config, *rest, **kw: (
        trained.append((model, config.seed)), original(model, config, *rest, **kw))[1])
    second = run_ablation(AblationConfig(**options, seeds=(0, 1), judges=(0,)), progress=False)
    assert trained == [("spade", 1)]
    assert second["runs"][0] == first["runs"][0] and len(second["runs"]) == 2
    third = run_ablation(AblationConfig(**options, seeds=(0, 1), judges=(0, 1)), progress=False)
    assert len(third["runs"]) == 4 and third["runs"][:2] == second["runs"]
    assert {(run["seed"], run["judge_seed"]) for run in third["runs"][2:]} == {(0, 1), (1, 1)}
    with pytest.raises(ValueError, match="steps=2, this run asks steps=3"):
        run_ablation(AblationConfig(**{**options, "steps": 3}, seeds=(0,)), progress=False)
    path = tmp_path / "ablation_landscapes.json"
    document = json.loads(path.read_text())
    document["runs"][0]["params"] += 1  # as if these runs were made by an older version of the generator
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="its spade runs have .* generator parameters but this code builds"):
        run_ablation(AblationConfig(**options, seeds=(0, 1)), progress=False)


@pytest.mark.slow
def test_verify_recomputes_the_ceilings_exactly_and_a_rerun_within_the_noise(tiny_data, tmp_path, capsys) -> None:
    options = {**TINY, "models": ("input_bn",), "out": str(tmp_path / "results"), "work": str(tmp_path / "work"),
               "device": "cpu"}
    run_ablation(AblationConfig(**options, seeds=(0, 1), judges=(0, 1)), progress=False)
    path = tmp_path / "results" / "ablation_landscapes.json"
    assert verify(path, (("input_bn", 0),), work=str(tmp_path / "verify"), progress=False)
    out = capsys.readouterr().out
    assert out.count("agrees exactly") == 2 and out.count("within 2 x its seed std") == 2
    document = json.loads(path.read_text())
    document["judges"][1]["ceiling_miou"] += 0.01
    path.write_text(json.dumps(document))
    assert not verify(path, (), work=str(tmp_path / "verify"), progress=False)
    assert "DIFFERS" in capsys.readouterr().out
    with pytest.raises(ValueError, match="holds no run of spade seed 0"):
        verify(path, (("spade", 0),), work=str(tmp_path / "verify"), progress=False)


@pytest.mark.parametrize(("argv", "message"), [
    (["--size", "48"], "size=48"),
    (["--size", "32"], "use size >= 64"),
    (["--seeds", "0"], "--seeds 0"),
    (["--judges", "0"], "--judges 0"),
    (["--steps", "0"], "steps=0"),
    (["--verify", "nowhere.json"], "nowhere.json: no results file there"),
    (["--verify", "--rerun", "spade"], "--rerun 'spade': write MODEL:SEED"),
])
def test_the_command_reports_bad_options_in_one_line(argv, message, capsys) -> None:
    assert main(["ablate", *argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_reruns_are_parsed_as_model_and_seed() -> None:
    assert parse_reruns(["spade:0", "clade:2"]) == (("spade", 0), ("clade", 2))


@pytest.mark.slow
def test_the_command_runs_the_ablation_with_its_options(tiny_data, tmp_path, capsys) -> None:
    argv = ["--size", "64", "--steps", "1", "--batch", "2", "--ngf", "2", "--spade-hidden", "4", "--seeds", "1",
            "--judges", "2", "--models", "spade", "--eval-images", "2", "--segmenter-steps", "1", "--device", "cpu",
            "--out", str(tmp_path), "--work", str(tmp_path / "work")]
    assert main(["ablate", *argv]) == 0
    printed = capsys.readouterr().out
    assert "spade: mIoU" in printed and f"wrote {tmp_path / 'ablation_landscapes.json'}" in printed
    document = json.loads((tmp_path / "ablation_landscapes.json").read_text())
    assert document["settings"]["batch_size"] == 2 and len(document["judges"]) == 2
    assert main(["ablate", "--verify", str(tmp_path / "ablation_landscapes.json"), "--rerun",
                 "--work", str(tmp_path / "verify")]) == 0
    assert "verify: every recomputed score agrees" in capsys.readouterr().out


@pytest.mark.slow
def test_the_committed_results_hold_every_variant_seed_and_judge_made_by_this_code() -> None:
    path = COMMITTED / "ablation_landscapes.json"
    document = json.loads(path.read_text())
    assert path.with_suffix(".png").stat().st_size > 10_000
    config = AblationConfig(**document["settings"], device="cpu")
    assert config.settings() == AblationConfig().settings()  # the defaults of spade-lesson ablate
    judges = [judge["seed"] for judge in document["judges"]]
    assert len(judges) >= 3 and all((COMMITTED / judge["weights"]).is_file() for judge in document["judges"])
    assert all(judge["weights"].startswith(f"{JUDGES}/") for judge in document["judges"])
    seeds = sorted({run["seed"] for run in document["runs"]})
    assert len(seeds) >= 3
    assert sorted((run["model"], run["seed"], run["judge_seed"]) for run in document["runs"]) == sorted(
        (model, seed, judge) for model in MODELS for seed in seeds for judge in judges)
    assert all(RECORD <= set(run) for run in document["runs"])
    check_resumed_models(document["runs"], config, 9, path)  # the generators' sizes are today's
    assert document["initialization"] == initialization(gan_config(config, 0))  # and so is their initialization
    summaries = summarize(document)
    spade = summaries["spade"].params
    for model, variant in VARIANTS.items():
        assert (abs(summaries[model].params / spade - 1) <= 0.10) == variant.matched, model


def test_the_earlier_run_from_pytorchs_initialization_is_the_same_study_with_the_same_judges() -> None:
    current = json.loads((COMMITTED / "ablation_landscapes.json").read_text())
    earlier = json.loads((COMMITTED / "ablation_landscapes_pytorch_init.json").read_text())
    assert earlier["settings"] == current["settings"] and earlier["judges"] == current["judges"]
    assert earlier["initialization"].startswith("PyTorch's default")
    assert current["initialization"] != earlier["initialization"]
    cells = [sorted((run["model"], run["seed"], run["judge_seed"]) for run in document["runs"])
             for document in (earlier, current)]
    assert cells[0] == cells[1]


def test_the_input_only_variant_is_the_course_baseline() -> None:
    assert isinstance(build_generator("input_in", gan_config(AblationConfig(**TINY), 0), 9), InputOnlyGenerator)

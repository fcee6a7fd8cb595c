"""spade_lesson.evaluation.study.runner, results and figure: one run per seed scored at every budget, each record
written at once, resuming from the file alone, a new judge scored from the kept generators, two runs at once."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch
from study_helpers import TINY, tiny_split

from spade_lesson.evaluation.study import runner
from spade_lesson.evaluation.study.config import AblationConfig, gan_config, run_folder, work_folder
from spade_lesson.evaluation.study.figure import write_figure
from spade_lesson.evaluation.study.results import load_results
from spade_lesson.evaluation.study.runner import build_generator, run_ablation, stages
from spade_lesson.evaluation.study.scoring import CALIBRATION_ROWS
from spade_lesson.runtime.machine import seed_everything
from spade_lesson.training.loop import train

RECORD = {"model", "seed", "steps", "judge_seed", "miou", "accuracy", "kid", "class_iou", "params", "norm_macs",
          "seconds", "device"}

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def tiny_data(monkeypatch):
    """load_dataset gives 2-item Landscapes splits."""
    monkeypatch.setattr(runner, "load_dataset", tiny_split)


def _config(tmp_path, **options) -> AblationConfig:
    return AblationConfig(**{**TINY, "results": str(tmp_path / "results" / "study.json"),
                             "work": str(tmp_path / "work"), **options})


def test_a_tiny_study_writes_a_record_per_run_budget_and_judge_and_the_calibration_rows(tiny_data, tmp_path) -> None:
    config = _config(tmp_path, models=("spade", "input_nonorm"), seeds=(0, 1), judges=(0, 1))
    document = run_ablation(config, progress=False)
    assert load_results(config.results, config) == document
    assert sorted((r["model"], r["seed"], r["steps"], r["judge_seed"]) for r in document["runs"]) == sorted(
        (m, s, b, j) for m in ("spade", "input_nonorm") for s in (0, 1) for b in (1, 2) for j in (0, 1))
    for run in document["runs"]:
        assert RECORD <= set(run) and 0.0 <= run["miou"] <= 1.0 and len(run["class_iou"]) == 9
        assert (run["norm_macs"] > 0) == (run["model"] == "spade")
    assert [(r["row"], r["judge_seed"]) for r in document["calibration"]] == [
        (row, judge) for row in CALIBRATION_ROWS for judge in (0, 1)]
    assert all((tmp_path / "results" / j["weights"]).is_file() for j in document["judges"])
    assert (run_folder(config, "spade", 1) / "ema-step00002.pt").is_file()  # the generator kept at each budget
    assert sorted(p.name for p in (tmp_path / "results" / "samples").iterdir()) == [
        f"{m}-seed0-step{b:05d}.png" for m in ("input_nonorm", "spade") for b in (1, 2)]
    write_figure(document, tmp_path / "results" / "study.json", tiny_split("", split="val", size=64),
                 tmp_path / "study.png")
    assert (tmp_path / "study.png").stat().st_size > 10_000


def test_the_record_at_a_budget_is_what_a_run_of_that_many_steps_gives(tiny_data, tmp_path) -> None:
    config = _config(tmp_path, models=("spade",), seeds=(0,), judges=(0,))
    run_ablation(config, progress=False)  # one run: 1 step, then on to 2
    kept = torch.load(run_folder(config, "spade", 0) / "ema-step00001.pt", weights_only=True)
    single = dataclasses.replace(gan_config(config, 0, out=tmp_path / "single"), steps=1)
    seed_everything(0)
    alone = train(single, generator=build_generator("spade", single, 9), data=tiny_split("", size=64), progress=False)
    assert all(torch.equal(kept[k], v) for k, v in alone.trainer.ema.state_dict().items())


def test_a_fresh_checkout_resumes_from_the_file_and_a_new_judge_scores_the_kept_generators(
        tiny_data, tmp_path, monkeypatch) -> None:
    config = _config(tmp_path, models=("spade",), seeds=(0,), judges=(0,))
    first = run_ablation(config, progress=False)
    trained = []
    original = runner.train
    monkeypatch.setattr(runner, "train", lambda run, **kw: (trained.append(run.steps), original(run, **kw))[1])
    run_ablation(_config(tmp_path, models=("spade",), seeds=(0,), judges=(0, 1)), progress=False)
    assert trained == []  # judge 1 scored the generators kept at each budget
    shutil.rmtree(work_folder(config))  # a fresh checkout: the file, no checkpoints
    second = run_ablation(_config(tmp_path, models=("spade",), seeds=(0, 1), judges=(0, 1)), progress=False)
    assert trained == [1, 2]  # seed 1 trained once through both budgets; seed 0 not again
    assert second["runs"][:2] == first["runs"] and len(second["runs"]) == 8


def test_a_file_from_other_settings_or_an_older_generator_is_refused(tiny_data, tmp_path) -> None:
    config = _config(tmp_path, models=("spade",), seeds=(0,), judges=(0,))
    run_ablation(config, progress=False)
    with pytest.raises(ValueError, match="budgets=\\[1, 2\\], this study asks budgets=\\[1, 3\\]"):
        run_ablation(_config(tmp_path, models=("spade",), seeds=(0,), judges=(0,), budgets=(1, 3)), progress=False)
    with pytest.raises(ValueError, match="ngf=2, this study asks ngf=3"):
        run_ablation(_config(tmp_path, models=("spade",), seeds=(0,), judges=(0,), ngf=3), progress=False)
    path = tmp_path / "results" / "study.json"
    document = json.loads(path.read_text())
    document["runs"][0]["params"] += 1  # as if made by an older version of the generator
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="its spade runs have .* generator parameters but this code builds"):
        run_ablation(config, progress=False)


def test_the_work_is_ordered_seed_by_seed_and_budget_by_budget_over_every_model(tiny_data, tmp_path) -> None:
    config = _config(tmp_path, models=("spade", "concat"), seeds=(0, 1), judges=(0,))
    order = [(model, seed, *stage) for model, seed, stage in stages({"runs": []}, config)]
    assert order == [("spade", 0, 1), ("concat", 0, 1), ("spade", 0, 2), ("concat", 0, 2),
                     ("spade", 1, 1), ("concat", 1, 1), ("spade", 1, 2), ("concat", 1, 2)]


@pytest.mark.slow
def test_two_jobs_at_once_give_the_records_one_job_gives(tmp_path, capsys) -> None:
    options = {**TINY, "size": 32, "models": ("spade", "concat"), "seeds": (0,), "judges": (0,)}
    one = run_ablation(AblationConfig(**options, results=str(tmp_path / "one" / "s.json"),
                                      work=str(tmp_path / "w1")), progress=False)
    two = run_ablation(AblationConfig(**options, jobs=2, results=str(tmp_path / "two" / "s.json"),
                                      work=str(tmp_path / "w2")), progress=False)
    printed = capsys.readouterr().out
    assert "with 2 jobs" in printed
    order = [line.split(":")[0] for line in printed.splitlines() if " steps: mIoU" in line][-4:]
    assert sorted(order[:2]) == ["concat seed 0 at 1 steps", "spade seed 0 at 1 steps"]  # both runs' first budget
    strip = lambda doc: sorted((r["model"], r["steps"], r["miou"], r["kid"]) for r in doc["runs"])  # noqa: E731
    assert strip(one) == strip(two) and len(two["runs"]) == 4

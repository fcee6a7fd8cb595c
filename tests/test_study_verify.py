"""spade_lesson.evaluation.study.verify and `spade-lesson ablate`: the calibration rows recomputed exactly, a rerun
within the noise, nothing checked is a failure, one-line errors, and the committed study made by this code."""

from __future__ import annotations

import json

import pytest
from study_helpers import TINY, tiny_split

from spade_lesson.cli import main
from spade_lesson.cli.ablate import parse_reruns
from spade_lesson.evaluation.study import runner
from spade_lesson.evaluation.study.config import COMMITTED, MODELS, AblationConfig
from spade_lesson.evaluation.study.judges import JUDGES
from spade_lesson.evaluation.study.report import readme_tables
from spade_lesson.evaluation.study.results import load_results
from spade_lesson.evaluation.study.runner import check_resumed_models, run_ablation
from spade_lesson.evaluation.study.verify import verify

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def tiny_data(monkeypatch):
    """load_dataset gives 2-item Landscapes splits."""
    monkeypatch.setattr(runner, "load_dataset", tiny_split)


def test_verify_recomputes_the_calibration_exactly_and_a_rerun_within_the_noise(tiny_data, tmp_path, capsys) -> None:
    path = tmp_path / "results" / "study.json"
    run_ablation(AblationConfig(**TINY, models=("input_bn",), seeds=(0, 1), judges=(0, 1), results=str(path),
                                work=str(tmp_path / "work")), progress=False)
    assert verify(path, (("input_bn", 0, 2),), work=str(tmp_path / "verify"), progress=False)
    out = capsys.readouterr().out
    assert out.count(": agrees") == 6 and out.count(": within") == 4  # 2 budgets x 2 judges
    document = json.loads(path.read_text())
    document["calibration"][1]["miou"] += 0.01
    path.write_text(json.dumps(document))
    assert not verify(path, (), work=str(tmp_path / "verify"), progress=False)
    assert "DIFFERS" in capsys.readouterr().out
    with pytest.raises(ValueError, match="holds no record of spade seed 0 up to 2 steps"):
        verify(path, (("spade", 0, 2),), work=str(tmp_path / "verify"), progress=False)
    document["calibration"] = []
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="nothing to verify"):
        verify(path, (), work=str(tmp_path / "verify"), progress=False)


@pytest.mark.parametrize(("argv", "message"), [
    (["--size", "48"], "size=48"),
    (["--size", "32"], "use size >= 64"),
    (["--seeds", "0"], "--seeds 0"),
    (["--judges", "0"], "--judges 0"),
    (["--budgets", "300", "150"], "budgets=(300, 150)"),
    (["--verify", "nowhere.json"], "nowhere.json: no study results there"),
    (["--verify", "--rerun", "spade"], "--rerun 'spade': write MODEL:SEED"),
])
def test_the_command_reports_bad_options_in_one_line(argv, message, capsys) -> None:
    assert main(["ablate", *argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_verify_fails_in_one_line_when_it_checked_nothing(tmp_path, capsys) -> None:
    path = tmp_path / "study.json"
    path.write_text(json.dumps({**load_results(COMMITTED), "judges": [], "calibration": [], "runs": []}))
    assert main(["ablate", "--verify", str(path), "--rerun"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing to verify" in err


def test_reruns_are_parsed_as_model_seed_and_budget() -> None:
    assert parse_reruns(["spade:0", "clade:2:600"], 150) == (("spade", 0, 150), ("clade", 2, 600))


def test_the_command_runs_the_study_with_its_options(tiny_data, tmp_path, capsys) -> None:
    path = tmp_path / "study.json"
    argv = ["--size", "64", "--budgets", "1", "2", "--batch", "2", "--ngf", "2", "--spade-hidden", "4", "--seeds", "1",
            "--judges", "2", "--models", "spade", "--eval-images", "2", "--segmenter-steps", "1", "--device", "cpu",
            "--results", str(path), "--work", str(tmp_path / "work")]
    assert main(["ablate", *argv]) == 0
    printed = capsys.readouterr().out
    assert "study: 1 runs to train (2 GAN steps)" in printed
    assert "spade at    2 steps: mIoU" in printed and "(1 seed)" in printed
    assert "the study is complete: 1 of 1 runs" in printed and path.with_suffix(".png").is_file()
    document = load_results(path)
    assert document["training"]["batch_size"] == 2 and len(document["judges"]) == 2
    assert main(["ablate", "--verify", str(path), "--rerun", "spade:0:2", "--work", str(tmp_path / "verify")]) == 0
    assert "verify: every recomputed score agrees" in capsys.readouterr().out


def test_the_committed_study_is_this_code_s_with_every_record_at_a_budget() -> None:
    document = load_results(COMMITTED)
    config = AblationConfig()
    assert document["settings"] == config.settings() and document["training"] == config.training()
    assert len(document["judges"]) >= 3
    for judge in document["judges"]:
        assert judge["weights"].startswith(f"{JUDGES}/") and (COMMITTED.parent / judge["weights"]).is_file()
        assert judge["steps"] == config.segmenter_steps and (COMMITTED.parent / judge["curve"]).is_file()
    assert {(r["row"], r["judge_seed"]) for r in document["calibration"]} == {
        (row, j["seed"]) for row in ("real images", "flat painter", "blurred painter") for j in document["judges"]}
    assert all(run["steps"] in config.budgets and run["model"] in MODELS for run in document["runs"])
    check_resumed_models(document, config, 9, COMMITTED)  # the generators' sizes are today's


def test_the_readme_shows_the_committed_study_s_tables() -> None:
    readme = (COMMITTED.parents[3] / "README.md").read_text()
    assert readme_tables(load_results(COMMITTED), MODELS, (0, 1, 2)) in readme

"""benchmarks/gpu_check.sh end to end on the CPU (--dry-run), and its refusal without a GPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
EXPECTED = {"gpu_check.log", "environment.txt", "onehot_cpu.json", "train_step_cpu.json", "course_losses.jsonl",
            "course_first.png", "course_last.png", "course_summary.json"}

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                                reason="gpu_check.sh needs bash and coreutils' timeout")


def run_check(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_dry_run_writes_every_file_the_gpu_run_would(tmp_path):
    done = run_check("--dry-run", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = tmp_path / "out"
    assert {path.name for path in out.iterdir()} == EXPECTED  # 8 files, no folders: what the device tool returns

    onehot = json.loads((out / "onehot_cpu.json").read_text())
    cases = ("first conv", "label resizes", "G+D step")
    assert set(onehot["ratios"]) == {f"{case} @ {classes} classes" for case in cases for classes in (9, 151, 182)}
    assert all(result["max_abs_diff_out"] < 1e-5 for result in onehot["results"] if result["case"] == "first conv")
    assert all(result["identical"] for result in onehot["results"] if result["case"] == "label resizes")
    gd_steps = [result for result in onehot["results"] if result["case"] == "G+D step"]
    assert all(result["max_abs_diff_first_losses"] < 1e-4 for result in gd_steps)
    assert onehot["tf32"]["cudnn_allow_tf32"] is False and onehot["threads"]["torch_threads"] == 1

    steps = json.loads((out / "train_step_cpu.json").read_text())
    assert [r.get("error") for r in steps["results"]] == [None] * 4, steps["results"]
    tf32 = {r["regime"]: r["tf32"]["cudnn_allow_tf32"] for r in steps["results"]}
    assert tf32 == {"fp32 eager": False, "optimized": True}
    assert all(value is not None for value in steps["ratios"].values())

    summary = json.loads((out / "course_summary.json").read_text())
    assert summary["step"] == 3 and (out / "course_losses.jsonl").read_text().count("\n") == 3
    assert (out / "course_last.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_without_a_gpu_it_says_so_in_one_line(tmp_path):
    done = run_check(str(tmp_path / "out"))
    assert done.returncode == 1
    assert "this torch sees no CUDA GPU: run it on a CUDA machine, or pass --dry-run" in done.stdout
    assert run_check().returncode == 2


def time_to_quality():
    """benchmarks/time_to_quality.py as a module (benchmarks/ is no package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("time_to_quality", ROOT / "benchmarks" / "time_to_quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_time_to_quality_scores_one_run_at_every_budget_and_resumes(tmp_path, capsys):
    bench = time_to_quality()
    judge = next((ROOT / "spade_lesson" / "evaluation" / "results" / "judges").glob("segmenter-*.pt"))
    out = tmp_path / "ttq.json"
    settings = '{"ngf": 4, "ndf": 4, "spade_hidden": 8, "n_layers_D": 2, "batch_size": 2}'
    argv = ["--name", "tiny", "--settings", settings, "--budgets", "1", "0.5", "--repeats", "1", "--threads", "1",
            "--clock", "cpu", "--judges", str(judge), "--eval-images", "8", "--out", str(out)]
    assert bench.main(argv) == 0
    document = json.loads(out.read_text())
    points = document["runs"]["tiny"]["repeats"][0]["points"]
    assert [point["budget_s"] for point in points] == [0.5, 1.0]  # one run, scored at each mark in order
    assert 0 < points[0]["steps"] <= points[1]["steps"] and points[1]["cpu_s"] >= 1.0
    assert all(0 <= point["miou"] <= 1 for point in points)
    real, flat = document["references"]["real images"], document["references"]["flat class colours"]
    assert real["miou"] > flat["miou"] - 0.2 and flat["realism_kid"] > real["realism_kid"]  # the calibration rows
    assert {"cpu_model", "threads", "torch", "load_average_1min"} <= set(document["machine"])
    assert document["runs"]["tiny"]["summary"][1]["repeats"] == 1
    assert (tmp_path / "ttq.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert bench.main(argv) == 0  # a rerun keeps the finished repeat
    assert "tiny seed 0: in " in capsys.readouterr().out
    assert json.loads(out.read_text())["runs"]["tiny"]["repeats"] == document["runs"]["tiny"]["repeats"]


def test_time_to_quality_refuses_bad_settings_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit):
        time_to_quality().main(["--settings", '{"colour": 1}', "--out", str(tmp_path / "x.json")])
    assert "--settings" in capsys.readouterr().err and not (tmp_path / "x.json").exists()


def test_the_demo_quotes_the_committed_benchmark_of_its_own_settings_at_its_own_budget():
    import dataclasses

    from spade_lesson.cli.demo import DEMO_SECONDS, MEASURED, demo_config

    document = json.loads((ROOT / "benchmarks" / "time_to_quality_cpu.json").read_text())
    run = document["runs"]["demo"]
    now = dataclasses.asdict(demo_config(False, "runs/time_to_quality", 10**9, None))
    for repeat in run["repeats"]:  # the run's settings are today's demo's (amp follows the CPU, seed the repeat)
        changed = {name for name, value in now.items() if repeat["config"].get(name) != value}
        assert changed <= {"amp", "seed", "device"}, changed
    row = next(row for row in run["summary"] if row["budget_s"] == DEMO_SECONDS)
    assert row["repeats"] == 3 and MEASURED["steps"] == row["steps"]
    assert round(MEASURED["miou"], 2) == round(row["miou"], 2)
    assert round(MEASURED["ceiling"], 2) == round(document["references"]["real images"]["miou"], 2)

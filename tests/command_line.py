"""Running `spade-lesson` inside a test: tiny training settings, the exit code and stderr, a refusal's one line,
and a snapshot of a folder that a refused command must leave as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

from one_line import one_line

TINY = ["--preset", "cpu", "--size", "32", "--batch", "2", "--ngf", "2", "--ndf", "2", "--spade-hidden", "4",
        "--n-layers-D", "2", "--log-every", "1", "--checkpoint-every", "2", "--sample-every", "2", "--device", "cpu"]
OPTIONS = {"label_nc": 3, "no_instance": True, "ngf": 2, "crop_size": 32, "norm_G": "spectralspadebatch3x3"}


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    """`spade-lesson ARGV` in this process -> (exit code, stderr); an exception escaping it fails the test."""
    from spade_lesson.cli import main

    capsys.readouterr()
    try:
        code = main([str(arg) for arg in argv])
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


def refused(capsys, *argv: str, parts: tuple[str, ...] = ()) -> str:
    """The command exits non-zero with one line on stderr mentioning every part; returns the line."""
    code, err = run_cli(capsys, *argv)
    assert code not in (0, None), err
    lines = [line.split("\r")[-1] for line in err.strip().splitlines()]
    report = "\n".join(line for line in lines if "%|" not in line)  # a training run's progress bar aside
    one_line(report, *parts)
    assert report.startswith("spade-lesson "), report
    return report


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder (relative path -> bytes): what must survive a refused command."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def copy_run(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained run that a test may change."""
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    return out


def sample_args(files: dict[str, Path], *labels: Path, out: Path) -> list[str]:
    return ["sample", "--checkpoint", str(files["checkpoint"]), "--opt", str(files["opt"]),
            "--labels", *map(str, labels or (files["label"],)), "--out", str(out)]


"""The shared notebook setup (fast mode, the device's description) and the conventions every notebook follows."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from spade_lesson.course import notebook, source
from spade_lesson.course.checks import HINT_TIERS
from spade_lesson.course.notebook import SETUP_CELL, describe_device, fast_mode, setup, widgets_warning
from spade_lesson.runtime import machine

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_fast_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("SPADE_LESSON_FAST", value)
    assert fast_mode() is expected


def test_fast_mode_refuses_a_value_it_does_not_understand(monkeypatch):
    monkeypatch.setenv("SPADE_LESSON_FAST", "maybe")
    with pytest.raises(ValueError, match="SPADE_LESSON_FAST"):
        fast_mode()


def test_describe_device_names_the_hardware(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: "Tesla T4")
    assert describe_device(torch.device("cuda")) == "CUDA: Tesla T4"
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    monkeypatch.setattr(notebook.os, "cpu_count", lambda: 8)
    cpu = describe_device(torch.device("cpu"))
    assert cpu.startswith("CPU: ") and cpu.endswith(", 4 threads (8 cores)")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert describe_device(torch.device("cpu")).endswith(", 1 thread (8 cores)")


def test_setup_prints_one_line_and_returns_device_and_mode(monkeypatch, capsys):
    monkeypatch.setenv("SPADE_LESSON_FAST", "1")
    monkeypatch.setattr(notebook, "pick_device", lambda: torch.device("cpu"))
    device, fast = setup(seed=3)
    assert device.type == "cpu" and fast is True
    assert capsys.readouterr().out.count("\n") == 1


@pytest.mark.parametrize(("load", "threads"), [(0.0, 2), (1.2, 1), (5.0, 1)])
def test_setup_gives_torch_one_thread_per_idle_core(monkeypatch, capsys, load, threads):
    monkeypatch.setattr(notebook, "pick_device", lambda: torch.device("cpu"))
    monkeypatch.setattr(machine.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(machine.os, "getloadavg", lambda: (load, load, load))
    before = torch.get_num_threads()
    try:
        setup(seed=0)
        assert torch.get_num_threads() == threads
        assert f", {threads} thread" in capsys.readouterr().out
    finally:
        torch.set_num_threads(before)


def test_the_course_has_notebooks():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_course_conventions(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert nb["cells"][0]["cell_type"] == "markdown", f"{path.name}: start with a title cell"
    assert "".join(code[0]["source"]) == SETUP_CELL, f"{path.name}: first code cell must be notebook.SETUP_CELL"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(code):
        assert cell["execution_count"] is not None, f"{path.name}: code cell {i} committed without being run"
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        assert not errors, f"{path.name}: code cell {i} committed with an error output"


def _run_setup_cell(monkeypatch, *, in_colab: bool, pip_returncode: int = 0) -> list:
    """Execute SETUP_CELL with pip and (when in_colab) google.colab stubbed; return what it called."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append(args) or subprocess.CompletedProcess(
        args, pip_returncode))
    monkeypatch.setattr(notebook, "setup", lambda seed: calls.append("setup") or (torch.device("cpu"), True))
    if in_colab:
        colab = types.ModuleType("google.colab")
        colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("widgets"))
        monkeypatch.setitem(sys.modules, "google.colab", colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(SETUP_CELL, {})
    return calls


def test_setup_cell_installs_the_pinned_source_in_colab_only(monkeypatch):
    monkeypatch.delenv(source.ENV, raising=False)
    pip, *rest = _run_setup_cell(monkeypatch, in_colab=True)
    assert pip[-1] == source.pip_requirement() and "@v" in pip[-1]
    assert rest == ["widgets", "setup"]
    assert _run_setup_cell(monkeypatch, in_colab=False) == ["setup"]


def test_setup_cell_installs_a_fork_named_in_the_environment(monkeypatch):
    monkeypatch.setenv(source.ENV, "me/fork@v2")
    pip = _run_setup_cell(monkeypatch, in_colab=True)[0]
    assert pip[-1] == "spade-lesson @ git+https://github.com/me/fork@v2"


def test_a_failed_install_stops_with_one_line_saying_what_to_do(monkeypatch):
    monkeypatch.setenv(source.ENV, "me/typo@v2")
    with pytest.raises(SystemExit) as stop:
        _run_setup_cell(monkeypatch, in_colab=True, pip_returncode=1)
    message = str(stop.value)
    assert "\n" not in message and "github.com/me/typo@v2" in message and source.ENV in message


@pytest.mark.parametrize(("ipywidgets", "jupyterlab", "in_colab", "warns"), [
    ("7.7.1", "4.2.5", False, True),  # the combination that draws nothing
    ("7.7.1", "4.2.5", True, False),  # Colab draws ipywidgets 7 with its own manager
    ("7.7.1", "3.6.7", False, False),  # JupyterLab 3 draws ipywidgets 7
    ("7.7.1", None, False, False),  # no JupyterLab beside the kernel: nothing to say
    ("8.1.5", "4.2.5", False, False),
    (None, "4.2.5", False, False),
])
def test_widgets_warning_names_the_broken_combination_and_the_fix(ipywidgets, jupyterlab, in_colab, warns):
    warning = widgets_warning(ipywidgets=ipywidgets, jupyterlab=jupyterlab, in_colab=in_colab)
    assert (warning is not None) is warns
    if warns:
        assert "\n" not in warning and "ipywidgets 7.7.1" in warning and 'pip install "ipywidgets>=8"' in warning


def test_setup_prints_the_widgets_warning_to_stderr(monkeypatch, capsys):
    versions = {"ipywidgets": "7.7.1", "jupyterlab": "4.2.5"}
    monkeypatch.setattr(notebook, "installed_version", versions.get)
    monkeypatch.setattr(notebook, "pick_device", lambda: torch.device("cpu"))
    setup(seed=0)
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1 and captured.err.startswith("widgets: ")


@pytest.fixture
def colab(monkeypatch, tmp_path):
    """A stub Colab whose Drive mounts under tmp_path/drive (mounts counts the mounts); runs/ under tmp_path/work."""
    mounts = []

    def mount(path):
        mounts.append(path)
        (Path(path) / "MyDrive").mkdir(parents=True)

    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mount)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(notebook, "DRIVE", tmp_path / "drive")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return mounts


def test_run_folder_is_on_drive_in_colab(colab, tmp_path, capsys):
    folder = notebook.run_folder("notebook05")
    assert folder == str(tmp_path / "drive" / "MyDrive" / "spade-lesson" / "runs" / "notebook05")
    assert Path(folder).is_dir() and colab == [str(tmp_path / "drive")]
    assert notebook.run_folder("notebook05") == folder and len(colab) == 1, "a mounted Drive is not mounted again"
    assert "Google Drive" in capsys.readouterr().out


def test_run_folder_stays_local_when_asked_or_outside_colab(colab, monkeypatch, capsys):
    assert notebook.run_folder("notebook05", drive=False) == str(Path("runs") / "notebook05") and colab == []
    assert "a disconnect loses it" in capsys.readouterr().out
    monkeypatch.delitem(sys.modules, "google.colab")
    assert notebook.run_folder("notebook05") == str(Path("runs") / "notebook05")
    with pytest.raises(ValueError, match="only in Colab"):
        notebook.run_folder("notebook05", drive=True)


def test_run_folder_carries_on_locally_when_drive_is_declined(colab, monkeypatch, capsys):
    def decline(path):
        raise ValueError("mount failed")

    monkeypatch.setattr(sys.modules["google.colab"].drive, "mount", decline)
    assert notebook.run_folder("notebook05") == str(Path("runs") / "notebook05")
    out = capsys.readouterr().out
    assert "Google Drive is not mounted (ValueError: mount failed)" in out and "runs/notebook05" in out


def test_find_checkpoint_prefers_drive_then_local_then_shipped(colab, tmp_path, capsys):
    from spade_lesson.checkpoints import SHIPPED

    assert notebook.find_checkpoint("notebook05") == SHIPPED
    assert capsys.readouterr().out.startswith("checkpoint: spade_lesson/checkpoints/landscapes64.pt (shipped with the "
                                              "package; none at")  # no path of this machine's site-packages
    local = tmp_path / "work" / "runs" / "notebook05" / "checkpoint.pt"
    local.parent.mkdir(parents=True)
    local.write_bytes(b"")
    assert notebook.find_checkpoint("notebook05").resolve() == local
    assert "(this machine)" in capsys.readouterr().out
    on_drive = Path(notebook.run_folder("notebook05")) / "checkpoint.pt"
    on_drive.write_bytes(b"")
    assert notebook.find_checkpoint("notebook05") == on_drive
    assert capsys.readouterr().out.splitlines()[-1] == f"checkpoint: {on_drive} (Google Drive)"
    assert notebook.find_checkpoint("notebook05", drive=False).resolve() == local


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_with_exercises_says_how_the_checks_hint_before_the_first(path):
    cells = json.loads(path.read_text())["cells"]
    solutions = [i for i, cell in enumerate(cells) if cell["metadata"].get("nbgrader", {}).get("solution")]
    if not solutions:
        pytest.skip(f"{path.name} has no exercises")
    before = ["".join(cell["source"]) for cell in cells[: solutions[0]] if cell["cell_type"] == "markdown"]
    said = [text for text in before if HINT_TIERS in " ".join(text.split())]
    assert len(said) == 1, f"{path.name}: say checks.HINT_TIERS once, in the markdown before the first exercise"

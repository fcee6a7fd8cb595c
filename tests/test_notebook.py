"""The shared notebook setup (fast mode, the device's description) and the conventions every notebook follows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from spade_lesson import notebook
from spade_lesson.notebook import SETUP_CELL, describe_device, fast_mode, setup

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
    cpu = describe_device(torch.device("cpu"))
    assert cpu.startswith("CPU: ") and cpu.endswith(", 4 threads")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert describe_device(torch.device("cpu")).endswith(", 1 thread")


def test_setup_prints_one_line_and_returns_device_and_mode(monkeypatch, capsys):
    monkeypatch.setenv("SPADE_LESSON_FAST", "1")
    monkeypatch.setattr(notebook, "pick_device", lambda: torch.device("cpu"))
    device, fast = setup(seed=3)
    assert device.type == "cpu" and fast is True
    assert capsys.readouterr().out.count("\n") == 1


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

"""The setup every notebook runs first: pick a device, seed everything (spade_lesson.runtime), read fast mode."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from spade_lesson.runtime import pick_device, seed_everything

REPO_URL = "https://github.com/spade-lesson/spade-lesson"

# The first code cell of every notebook, word for word (tests/test_notebook.py checks this).
SETUP_CELL = f'''# Setup: the same first cell in every notebook of the course.
import subprocess, sys
IN_COLAB = "google.colab" in sys.modules
if IN_COLAB:  # install the course, and let Colab draw its custom widgets
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "spade-lesson @ git+{REPO_URL}"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()

from spade_lesson.notebook import setup
DEVICE, FAST = setup(seed=0)'''


def fast_mode() -> bool:
    """True when SPADE_LESSON_FAST=1: every notebook shrinks to run on a CPU in seconds (the tests set it)."""
    value = os.environ.get("SPADE_LESSON_FAST", "0").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"SPADE_LESSON_FAST={value!r}: set it to 1 (fast, CPU-sized) or 0 (full lesson)")


def describe_device(device: torch.device) -> str:
    """A readable name for device: the GPU's model, or the CPU's model name and torch's thread count."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type != "cpu":
        return device.type
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    return f"CPU: {model}, {threads} thread{'' if threads == 1 else 's'}"


def setup(seed: int = 0) -> tuple[torch.device, bool]:
    """Pick the device, seed everything, read fast mode; print one line saying what was chosen."""
    device = pick_device()
    fast = fast_mode()
    seed_everything(seed)
    mode = "fast (SPADE_LESSON_FAST=1)" if fast else "full"
    print(f"device: {describe_device(device)} | mode: {mode} | seed: {seed} | torch {torch.__version__}")
    return device, fast

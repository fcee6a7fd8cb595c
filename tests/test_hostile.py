"""Hostile and careless input (issue 14): each case builds its input here, gets one clear line (or the right
behaviour), and loses nothing the user had."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from spade_lesson import atomic
from spade_lesson.atomic import atomic_write, remove_stale_temporaries, write_text
from spade_lesson.generator import SPADEGenerator
from spade_lesson.labelmap import LabelMap
from spade_lesson.widgets import LabelCanvas, Painter

ROOT = Path(__file__).resolve().parents[1]
PALETTE = [(0, 0, 0), (255, 0, 0), (0, 255, 0)]


def one_line(message: str, *parts: str) -> None:
    """message is one line, no traceback, and mentions every part."""
    assert message.strip() and "\n" not in message.strip() and "Traceback" not in message, message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.fixture
def full_disk(monkeypatch) -> None:
    """atomic_write's temporary lands on a full disk: the kernel answers every write with ENOSPC (/dev/full)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    make = tempfile.mkstemp

    def mkstemp(**kwargs) -> tuple[int, str]:
        handle, path = make(**kwargs)  # the temporary exists, as on a real disk, so its removal can be checked
        os.close(handle)
        return os.open("/dev/full", os.O_WRONLY), path

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)


@pytest.fixture(scope="module")
def generator() -> SPADEGenerator:
    torch.manual_seed(0)
    return SPADEGenerator(3, ngf=2, crop_size=32, spade_hidden=8)


# ---- painter and canvas values ----

def test_brush_size_inf_is_refused_and_the_map_is_unchanged() -> None:
    labels = LabelMap(8, 8, 3)
    with pytest.raises(ValueError) as error:
        labels.stroke([(1, 1)], class_id=1, size=float("inf"))
    one_line(str(error.value), "size=inf", "finite")
    assert (labels.ids == 0).all() and labels.version == 0


def test_brush_size_10_to_the_400_paints_the_whole_map_in_one_undo_step() -> None:
    labels = LabelMap(8, 8, 3)
    assert labels.stroke([(-5, -5)], class_id=1, size=10**400) == 64
    assert (labels.ids == 1).all()
    assert labels.undo() and (labels.ids == 0).all()


def test_a_list_sent_to_the_canvas_is_kept_as_an_error_not_raised() -> None:
    labels = LabelMap(8, 8, 3)
    canvas = LabelCanvas(labels, PALETTE)
    assert canvas.handle(["stroke", [(1, 1)], 1, 3]) == 0
    one_line(canvas.error, "list", "dict")
    assert canvas.handle({"kind": "stroke", "points": [(1, 1)], "class_id": 1, "size": float("inf")}) == 0
    one_line(canvas.error, "size=inf")
    assert (labels.ids == 0).all() and labels.version == 0


@pytest.mark.parametrize(("palette", "shown"), [
    ([(300, -1, 0)] * 3, "(300, -1, 0)"),
    ([(0, 0)] * 3, "(0, 0)"),
    ([(0.5, 0, 0)] * 3, "(0.5, 0, 0)"),
    (["#ff0000"] * 3, "'#ff0000'"),
])
def test_a_palette_colour_outside_0_255_is_refused_by_canvas_and_painter(generator, palette, shown) -> None:
    with pytest.raises(ValueError) as error:
        LabelCanvas(LabelMap(8, 8, 3), palette)
    one_line(str(error.value), "LabelCanvas", "palette colour 0", shown, "0..255")
    with pytest.raises(ValueError) as error:
        Painter(generator, class_names=["a", "b", "c"], palette=palette)
    one_line(str(error.value), "Painter", "palette colour 0", shown, "0..255")


def test_a_label_map_too_large_for_memory_is_refused_before_allocating() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as error:
            LabelMap(10**5, 10**5, 9)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_line(str(error.value), "100000 x 100000", str(4096 * 4096))
    assert peak < 2**20  # not the 10 GB the map would take
    assert LabelMap(4096, 4096, 9).ids.shape == (4096, 4096)  # the largest allowed still works


@pytest.mark.parametrize("scale", [0, -2, 1.5, 10**6])
def test_painter_scale_must_be_a_sensible_int(generator, scale) -> None:
    with pytest.raises(ValueError) as error:
        Painter(generator, class_names=["a", "b", "c"], palette=PALETTE, scale=scale)
    one_line(str(error.value), "Painter", f"scale={scale!r}", "1 to 64")


# ---- disk full and killed writes ----

def test_disk_full_during_an_atomic_write_keeps_the_old_file_and_no_temporary(tmp_path, full_disk) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"runs": [1]}')
    with pytest.raises(OSError) as error:
        write_text(path, '{"runs": [1, 2]}' * 10_000)
    one_line(str(error.value), "disk full", str(path), "previous results.json is intact", "free some space")
    assert error.value.errno == 28
    assert path.read_text() == '{"runs": [1]}'
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_disk_full_inside_torch_save_is_named_as_a_full_disk(tmp_path, full_disk) -> None:
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(OSError) as error, atomic_write(path) as file:
        torch.save({"G": torch.zeros(100_000)}, file)  # torch wraps the ENOSPC in a RuntimeError
    one_line(str(error.value), "disk full", str(path), "no checkpoint.pt was written")
    assert list(tmp_path.iterdir()) == []


def test_temporaries_of_a_killed_write_are_removed_and_nothing_else(tmp_path) -> None:
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"old")
    killed = subprocess.run(
        [sys.executable, "-c", "import os, sys\nfrom spade_lesson.atomic import atomic_write\n"
         "with atomic_write(sys.argv[1]) as file:\n    file.write(b'half')\n    file.flush()\n"
         "    os.kill(os.getpid(), 9)\n", str(target)],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, check=False)
    assert killed.returncode == -9, killed.stderr
    (left,) = [path for path in tmp_path.iterdir() if path.name != "checkpoint.pt"]
    assert left.name.startswith(".checkpoint.pt.") and left.name.endswith(".tmp")
    keep = [".hidden.tmp", "notes.abcd1234.tmp", ".losses.jsonl.abcd1234.tmp.bak", "losses.jsonl"]
    for name in keep:
        (tmp_path / name).write_text("user's")
    (tmp_path / ".folder.abcdefgh.tmp").mkdir()
    assert remove_stale_temporaries(tmp_path) == [left]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, ".folder.abcdefgh.tmp", "checkpoint.pt"])
    assert target.read_bytes() == b"old"
    assert remove_stale_temporaries(tmp_path / "missing") == []

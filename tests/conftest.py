"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from command_line import OPTIONS, TINY
from PIL import Image

from spade_lesson.models.generator import SPADEGenerator
from spade_lesson.runtime import atomic


@pytest.fixture
def one_thread():
    """Tiny networks gain nothing from threads, and on a busy machine extra threads mostly wait."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def lookups_always(monkeypatch):
    """OneHotConv2d takes the lookup path at any class count (it takes the plain conv below LOOKUP_MIN_CLASSES)."""
    monkeypatch.setattr("spade_lesson.layers.onehot.LOOKUP_MIN_CLASSES", 1)


@pytest.fixture
def full_disk(monkeypatch) -> list[str]:
    """atomic_write's temporaries land on a full disk: the kernel answers every write with ENOSPC (/dev/full).

    Append file names to the returned list to fill the disk only for writes of those files.
    """
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    make, only = tempfile.mkstemp, []

    def mkstemp(**kwargs) -> tuple[int, str]:
        handle, path = make(**kwargs)  # the temporary exists, as on a real disk, so its removal can be checked
        if only and kwargs["prefix"].strip(".") not in only:
            return handle, path
        os.close(handle)
        return os.open("/dev/full", os.O_WRONLY), path

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)
    return only



@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished 2-step CPU run (checkpoint, log, samples), made once; tests copy it before changing it."""
    from spade_lesson.cli import main

    out = tmp_path_factory.mktemp("trained") / "run"
    torch.set_num_threads(1)
    assert main(["train", *TINY, "--steps", "2", "--out", str(out)]) == 0
    return out



@pytest.fixture
def official_files(tmp_path) -> dict[str, Path]:
    """A small official-format generator (latest_net_G.pth + opt.txt) and a label map of ids 0..2 in maps/."""
    torch.manual_seed(0)
    from spade_lesson.models import official

    generator = SPADEGenerator(**official.network_arguments("G", OPTIONS))
    torch.save(generator.state_dict(), tmp_path / "latest_net_G.pth")
    (tmp_path / "opt.txt").write_text("".join(f"{name:>25}: {value}\n" for name, value in OPTIONS.items()))
    maps = tmp_path / "maps"
    maps.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 3, (32, 32), dtype=np.uint8)).save(maps / "a.png")
    return {"checkpoint": tmp_path / "latest_net_G.pth", "opt": tmp_path / "opt.txt", "label": maps / "a.png"}


"""spade_lesson.runtime: one device choice (CUDA, then MPS, then CPU), one seeding function, idle cores."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from spade_lesson.runtime import idle_cpu_cores, init_distributed, pick_device, seed_everything


def test_device_preference_is_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == torch.device("cuda")
    monkeypatch.setenv("LOCAL_RANK", "1")  # under torchrun: this process's GPU
    assert pick_device("auto") == torch.device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device() == torch.device("cpu")


def test_a_named_device_is_checked_in_one_line(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device='gpu0' is not a torch device"):
        pick_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device='cuda' is not available: this machine has no usable cuda device"):
        pick_device("cuda")
    with pytest.raises(ValueError, match="device='meta' is not available: .* no usable meta device"):
        pick_device("meta")  # a device that holds shapes but computes nothing
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device='mps' is not available"):
        pick_device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="device='cuda:7' is not available: this machine has 1 cuda device"):
        pick_device("cuda:7")


def test_seeding_repeats_python_numpy_and_torch():
    seed_everything(7)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(7)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_idle_cores_are_between_one_and_all(monkeypatch):
    monkeypatch.setattr("os.getloadavg", lambda: (100.0, 0.0, 0.0))
    assert idle_cpu_cores() == 1
    monkeypatch.setattr("os.getloadavg", lambda: (0.0, 0.0, 0.0))
    assert idle_cpu_cores() >= 1


def test_a_single_process_starts_no_process_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert init_distributed() == (0, 1, False)

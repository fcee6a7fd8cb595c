"""spade_lesson.runtime.machine: one device choice (CUDA, then MPS, then CPU), one seeding function, idle cores."""

from __future__ import annotations

import random
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist

from spade_lesson.runtime.machine import ddp_device_ids, idle_cpu_cores, init_distributed, pick_device, seed_everything


def fake_gpus(monkeypatch, count: int, local_rank: int | None = None, processes: int | None = None) -> list:
    """Pretend torch sees `count` GPUs, in torchrun process `local_rank` of `processes`; records set_device calls."""
    for name in ("LOCAL_RANK", "LOCAL_WORLD_SIZE", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    if local_rank is not None:
        monkeypatch.setenv("LOCAL_RANK", str(local_rank))
        monkeypatch.setenv("LOCAL_WORLD_SIZE", str(processes))
        monkeypatch.setenv("WORLD_SIZE", str(processes))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    current = []
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    return current


def test_device_preference_is_cuda_then_mps_then_cpu(monkeypatch):
    fake_gpus(monkeypatch, 2)
    assert pick_device() == torch.device("cuda", 0)
    fake_gpus(monkeypatch, 2, local_rank=1, processes=2)  # under torchrun: this process's GPU
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
    assert init_distributed(torch.device("cpu")) == (0, 1, False)


@pytest.mark.parametrize("name", ["auto", "cuda", "cuda:0"])
def test_under_torchrun_each_rank_gets_its_own_gpu(monkeypatch, name):
    devices = []
    for rank in range(4):
        fake_gpus(monkeypatch, 4, local_rank=rank, processes=4)
        devices.append(pick_device(name))
    assert devices == [torch.device("cuda", rank) for rank in range(4)]
    assert [ddp_device_ids(device) for device in devices] == [[0], [1], [2], [3]]  # never [None]


def test_cuda_n_under_torchrun_counts_from_gpu_n(monkeypatch):
    fake_gpus(monkeypatch, 4, local_rank=1, processes=2)
    assert pick_device("cuda:2") == torch.device("cuda", 3)
    fake_gpus(monkeypatch, 4)  # one process: cuda:N is GPU N
    assert pick_device("cuda:3") == torch.device("cuda", 3) and pick_device("cuda") == torch.device("cuda", 0)


def test_more_processes_than_gpus_is_one_line(monkeypatch):
    fake_gpus(monkeypatch, 2, local_rank=0, processes=4)
    with pytest.raises(ValueError, match=r"4 processes on this machine needs GPUs 0..3, but torch sees 2 GPUs: "
                                         r"start torchrun with --nproc_per_node 2"):
        pick_device("auto")
    fake_gpus(monkeypatch, 4, local_rank=0, processes=2)
    with pytest.raises(ValueError, match=r"needs GPUs 3..4, but torch sees 4 GPUs"):
        pick_device("cuda:3")
    fake_gpus(monkeypatch, 2)
    with pytest.raises(ValueError, match=r"device='cuda:5' is not available: this machine has 2 cuda device"):
        pick_device("cuda:5")


def test_fewer_processes_than_gpus_is_a_note_from_the_first_rank(monkeypatch, capsys):
    fake_gpus(monkeypatch, 4, local_rank=0, processes=2)
    assert pick_device("cuda") == torch.device("cuda", 0)
    assert "2 processes on this machine use GPUs 0..1 of the 4 torch sees" in capsys.readouterr().err
    fake_gpus(monkeypatch, 4, local_rank=1, processes=2)
    pick_device("cuda")
    assert capsys.readouterr().err == ""


def test_the_process_group_starts_on_this_rank_gpu(monkeypatch):
    current = fake_gpus(monkeypatch, 2, local_rank=1, processes=2)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")  # as torchrun sets it
    backends = []
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", backends.append)
    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    device = pick_device("cuda")
    assert init_distributed(device) == (1, 2, True)
    assert current == [torch.device("cuda", 1)] and backends == ["nccl"]
    assert init_distributed(torch.device("cpu")) == (1, 2, True) and backends[-1] == "gloo"  # CPU ranks: gloo
    with pytest.raises(ValueError, match="has no GPU index"):
        ddp_device_ids(torch.device("cuda"))
    assert ddp_device_ids(torch.device("cpu")) is None


def test_leftover_distributed_variables_without_torchrun_wait_a_bounded_time_then_say_so(monkeypatch, capsys):
    import time

    from spade_lesson.runtime import machine

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    monkeypatch.setattr(machine, "RENDEZVOUS_S", 1.0)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port))
    start = time.perf_counter()
    with pytest.raises(ValueError, match="the other processes did not meet at 127.0.0.1:.* within 1 s .*: unset"):
        init_distributed(torch.device("cpu"))
    assert time.perf_counter() - start < 15
    assert "waiting up to 1 s for the others" in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE='two' is not a whole number >= 1: unset it"):
        init_distributed(torch.device("cpu"))


@pytest.mark.parametrize("value", ["abc", "-3", "0"])
def test_a_bad_thread_count_in_the_environment_names_the_variable(monkeypatch, value):
    from spade_lesson.cli.ablate import cpu_threads

    monkeypatch.setenv("OMP_NUM_THREADS", value)
    with pytest.raises(ValueError, match=f"OMP_NUM_THREADS='{value}' is not a whole number >= 1"):
        cpu_threads()


@pytest.mark.parametrize("seed", [-1, 2**32, 2.5, "0", True])
def test_seeds_out_of_range_name_the_seed(seed):
    from spade_lesson.runtime.machine import seed_everything

    with pytest.raises(ValueError, match="seed=.*: pass a whole number from 0 to 2\\*\\*32 - 1 \\(--seed"):
        seed_everything(seed)

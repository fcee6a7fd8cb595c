"""Where and how a run executes: the device, seeding, CPU threads, and torchrun's process group."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch
import torch.distributed as dist


def pick_device(name: str = "auto") -> torch.device:
    """A device name -> torch.device: "auto" is CUDA (cuda:LOCAL_RANK under torchrun), then MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            rank = os.environ.get("LOCAL_RANK")
            return torch.device("cuda") if rank is None else torch.device("cuda", int(rank))
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device={name!r} is not a torch device ({error}): use --device auto, cpu, cuda or "
                         "cuda:0") from None
    if device.type == "cpu":
        return device
    backend = getattr(torch, device.type, None)  # torch.cuda, torch.mps, torch.xpu, ...; none for meta
    if device.type == "mps":
        available = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    else:
        available = callable(getattr(backend, "is_available", None)) and backend.is_available()
    if not available:
        raise ValueError(f"device={name!r} is not available: this machine has no usable {device.type} device (torch "
                         f"{torch.__version__}); use --device auto or cpu")
    count = backend.device_count() if callable(getattr(backend, "device_count", None)) else 1
    if device.index is not None and device.index >= count:
        raise ValueError(f"device={name!r} is not available: this machine has {count} {device.type} device(s), "
                         f"numbered from 0; use --device {device.type}:0 .. {device.type}:{count - 1}")
    return device


def device_memory(device: torch.device) -> int | None:
    """Bytes of memory the device has in all (a GPU's, or the machine's RAM for the CPU); None where unknown."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    if device.type == "cpu" and hasattr(os, "sysconf"):
        with contextlib.suppress(ValueError, OSError):
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return None


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (every device) so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def idle_cpu_cores() -> int:
    """CPU cores no other process is using (at least 1): more torch threads than that wait on each other a lot."""
    cores = os.cpu_count() or 1
    busy = round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(cores, cores - busy))


def init_distributed() -> tuple[int, int, bool]:
    """(rank, world size, whether this call started the process group) from torchrun's environment."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1, False
    started = not dist.is_initialized()
    if started:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world_size, started


def any_process(flags: list[bool], world_size: int, device: torch.device) -> list[bool]:
    """Each flag OR-ed over all processes (they must all stop at the same step)."""
    if world_size == 1:
        return flags
    tensor = torch.tensor([float(flag) for flag in flags], device=device)
    dist.all_reduce(tensor)
    return [bool(value > 0) for value in tensor.tolist()]

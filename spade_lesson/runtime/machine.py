"""Where and how a run executes: the device, seeding, CPU threads, and torchrun's process group."""

from __future__ import annotations

import contextlib
import os
import random
import sys

import numpy as np
import torch
import torch.distributed as dist


def pick_device(name: str = "auto") -> torch.device:
    """A device name -> torch.device, CUDA ones with an index: "auto" is CUDA, then MPS, then the CPU.

    Under torchrun (LOCAL_RANK set) local rank r gets its own GPU: "auto" and "cuda" give cuda:r, "cuda:N" gives
    cuda:N+r; more processes on this machine than GPUs from there on is a one-line error, fewer a one-line note.
    """
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        else:
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
    if device.type == "cuda":
        return torch.device("cuda", _gpu_index(name, device.index or 0, count))
    return device


def _gpu_index(name: str, first: int, count: int) -> int:
    """This process's GPU: `first` plus torchrun's local rank, checked against the `count` GPUs torch sees."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    processes = int(os.environ.get("LOCAL_WORLD_SIZE", str(local_rank + 1)))  # torchrun's processes on this machine
    if first + processes > count:
        raise ValueError(f"device={name!r} with {processes} processes on this machine needs GPUs {first}.."
                         f"{first + processes - 1}, but torch sees {count} GPU{'s' * (count != 1)}: start torchrun "
                         f"with --nproc_per_node {count - first}")
    if "LOCAL_RANK" in os.environ and local_rank == 0 and first + processes < count:
        print(f"device={name!r}: {processes} process{'es' * (processes > 1)} on this machine use GPUs {first}.."
              f"{first + processes - 1} of the {count} torch sees (torchrun --nproc_per_node {count - first} would "
              "use the rest)", file=sys.stderr)
    return first + local_rank


def ddp_device_ids(device: torch.device) -> list[int] | None:
    """DistributedDataParallel's device_ids for a model on `device`: [its GPU] on CUDA, None elsewhere."""
    if device.type != "cuda":
        return None
    if device.index is None:
        raise ValueError(f"{device} has no GPU index: get the device from pick_device (cuda:LOCAL_RANK)")
    return [device.index]


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


def init_distributed(device: torch.device) -> tuple[int, int, bool]:
    """(rank, world size, whether this call started the process group) from torchrun's environment.

    device: this process's device (pick_device); on CUDA it becomes the current GPU before NCCL starts, elsewhere the
    processes talk through gloo.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1, False
    started = not dist.is_initialized()
    if started:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world_size, started


def any_process(flags: list[bool], world_size: int, device: torch.device) -> list[bool]:
    """Each flag OR-ed over all processes (they must all stop at the same step)."""
    if world_size == 1:
        return flags
    tensor = torch.tensor([float(flag) for flag in flags], device=device)
    dist.all_reduce(tensor)
    return [bool(value > 0) for value in tensor.tolist()]

"""Where and how a run executes: the device, seeding, CPU threads, and torchrun's process group."""

from __future__ import annotations

import contextlib
import datetime
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
    fix = "unset it, or let torchrun set it"
    local_rank = env_int("LOCAL_RANK", 0, 0, fix)
    processes = env_int("LOCAL_WORLD_SIZE", local_rank + 1, 1, fix)  # torchrun's processes on this machine
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


SEED_LIMIT = 2**32  # NumPy's legacy seeding takes 0 .. 2**32 - 1


def check_seed(seed: object, name: str = "seed") -> int:
    """seed when it is an int NumPy, torch and Python can all be seeded with; else a one-line ValueError naming it."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"{name}={seed!r}: pass a whole number from 0 to 2**32 - 1 (--seed on the command line)")
    return seed


def env_int(name: str, default: int, minimum: int, fix: str) -> int:
    """The environment variable name as an int >= minimum (default when unset or empty); else one line with fix."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise ValueError(f"{name}={text!r} is not a whole number >= {minimum}: {fix}")
    return value


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (every device) so a run can be repeated."""
    check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def idle_cpu_cores() -> int:
    """CPU cores no other process is using (at least 1): more torch threads than that wait on each other a lot."""
    cores = os.cpu_count() or 1
    busy = round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(cores, cores - busy))


RENDEZVOUS_S = 120.0  # how long processes started without torchrun wait for each other
RANK_FIX = "unset WORLD_SIZE, RANK, MASTER_ADDR and MASTER_PORT, or start the processes with torchrun"


def _rendezvous(world_size: int) -> dist.TCPStore:
    """The store every process of WORLD_SIZE meets at (MASTER_ADDR:MASTER_PORT), waiting at most RENDEZVOUS_S."""
    rank = env_int("RANK", 0, 0, RANK_FIX)
    address, port = os.environ.get("MASTER_ADDR", ""), env_int("MASTER_PORT", 0, 1, RANK_FIX)
    if not address or not port:
        raise ValueError(f"WORLD_SIZE={world_size} but MASTER_ADDR or MASTER_PORT is unset: {RANK_FIX}")
    print(f"process {rank} of WORLD_SIZE={world_size}: waiting up to {RENDEZVOUS_S:g} s for the others at "
          f"{address}:{port} (WORLD_SIZE, RANK, MASTER_ADDR left over from another job? {RANK_FIX})", file=sys.stderr)
    try:
        return dist.TCPStore(address, port, world_size, is_master=rank == 0,
                             timeout=datetime.timedelta(seconds=RENDEZVOUS_S), wait_for_workers=True)
    except (RuntimeError, OSError) as error:
        raise ValueError(f"process {rank} of WORLD_SIZE={world_size}: the other processes did not meet at "
                         f"{address}:{port} within {RENDEZVOUS_S:g} s ({type(error).__name__}): {RANK_FIX}") from None


def init_distributed(device: torch.device) -> tuple[int, int, bool]:
    """(rank, world size, whether this call started the process group) from torchrun's environment.

    device: this process's device (pick_device); on CUDA it becomes the current GPU before NCCL starts, elsewhere the
    processes talk through gloo.
    """
    world_size = env_int("WORLD_SIZE", 1, 1, "unset it, or start the processes with torchrun --nproc_per_node N")
    if world_size == 1:
        return 0, 1, False
    started = not dist.is_initialized()
    if started:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        if "TORCHELASTIC_RUN_ID" in os.environ:  # torchrun started every process: its rendezvous is done
            dist.init_process_group(backend)
        else:  # started by hand, or variables left over from another job: wait a bounded time for the others
            dist.init_process_group(backend, store=_rendezvous(world_size), rank=env_int("RANK", 0, 0, RANK_FIX),
                                    world_size=world_size)
    return dist.get_rank(), world_size, started


def any_process(flags: list[bool], world_size: int, device: torch.device) -> list[bool]:
    """Each flag OR-ed over all processes (they must all stop at the same step)."""
    if world_size == 1:
        return flags
    tensor = torch.tensor([float(flag) for flag in flags], device=device)
    dist.all_reduce(tensor)
    return [bool(value > 0) for value in tensor.tolist()]

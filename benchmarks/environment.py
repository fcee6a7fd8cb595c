"""What a benchmark number depends on, recorded beside it: device, torch, TF32 and thread settings, machine load."""

from __future__ import annotations

import os
import platform
import time

import torch

from spade_lesson.course.notebook import describe_device


def set_tf32(enabled: bool) -> None:
    """TF32 for float32 matmuls and cuDNN convs on or off: cuDNN's default is on, not the official fp32 regime."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    torch.set_float32_matmul_precision("high" if enabled else "highest")


def tf32_settings() -> dict[str, object]:
    """The TF32 switches as they are now (they act on CUDA only; recorded on a CPU too)."""
    return {"cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision()}


def thread_settings() -> dict[str, object]:
    """torch's intra- and inter-op threads, the thread variables of the environment and the machine's cores."""
    return {"torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "MKL_NUM_THREADS": os.environ.get("MKL_NUM_THREADS"),
            "cpu_count": os.cpu_count()}


def environment(device: torch.device) -> dict[str, object]:
    """Everything a reader needs to compare two benchmark JSONs: device, versions, TF32, threads, load, date."""
    return {
        "device": describe_device(device),
        "kind": device.type.upper(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "python": platform.python_version(),
        "tf32": tf32_settings(),
        "threads": thread_settings(),
        "load_average_1min": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None,
        "date": time.strftime("%Y-%m-%d"),
    }

"""Mixed precision on this machine: which autocast dtype a run asked for gets, and what autocast computes in now.

`resolve_amp(amp, device)` turns the amp setting ("auto", "bf16", "fp16", "none") into the dtype training autocasts
to on `device`, probing what this torch really supports there (autocast_works, grad_scaler_works) and saying so in one
line where it falls back to float32. `autocast_dtype(device_type)` is the dtype autocast is computing in right now.
"""

from __future__ import annotations

import sys
import warnings

import torch


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype on this device, None for float32.

    "auto": bf16 on CUDA from Ampere on, fp16 before, float32 elsewhere (a CPU gains from bf16 only with bf16 hardware);
    "bf16"/"fp16": on any device whose torch autocast has that dtype (fp16 also needs a GradScaler there); where it
    does not, float32 and one printed line saying so; "none": float32.
    """
    if amp == "none" or (amp == "auto" and device.type != "cuda"):
        return None
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.get_device_capability(device)[0] >= 8 else torch.float16
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    missing = None if autocast_works(device.type, dtype) else f"no {amp} autocast on {device.type}"
    if missing is None and dtype == torch.float16 and not grad_scaler_works(device.type):
        missing = f"no GradScaler on {device.type}, which fp16 needs"
    if missing is not None:
        print(f"amp={amp!r}: this torch ({torch.__version__}) has {missing}; training in float32", file=sys.stderr)
        return None
    return dtype


def autocast_works(device_type: str, dtype: torch.dtype) -> bool:
    """Whether torch.autocast(device_type, dtype) really turns autocast on here (torch disables it with a warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with torch.autocast(device_type=device_type, dtype=dtype):
                return autocast_dtype(device_type) == dtype
        except (RuntimeError, ValueError):
            return False


def grad_scaler_works(device_type: str) -> bool:
    """Whether torch.amp.GradScaler exists for this device type."""
    try:
        torch.amp.GradScaler(device_type)
    except (RuntimeError, ValueError, AttributeError):
        return False
    return True


def autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype autocast computes in on this device type right now, None when autocast is off."""
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return None

"""Weight initialization as the official SPADE code does it (options init_type, init_variance; init_weights).

`init_weights(module, init_type="xavier", gain=0.02)` re-draws, in place, every parameter of module's
- BatchNorm layers (torch's BatchNorm2d and SyncBatchNorm, and spade_lesson.layers.norms.BatchNorm2d): scale
  ~ N(1, gain^2), shift 0;
- Conv2d and Linear layers: the weight by init_type, the bias 0:
  "xavier" (the official default, with gain 0.02: Xavier-normal, std = gain * sqrt(2 / (fan_in + fan_out))),
  "xavier_uniform" (Xavier-uniform with gain 1: the official code ignores init_variance here), "normal" (N(0, gain^2)),
  "kaiming" (Kaiming-normal, fan_in, a=0: init_variance ignored too), "orthogonal" (scaled by gain), or "none" (keep the
  weights the layer was built with, PyTorch's default; the biases are still zeroed, as officially).
InstanceNorm, GroupNorm and everything else keep what they have. A spectral-normalized conv has its `weight_orig`
re-drawn (the official code writes through `weight`, which shares its storage before the first forward).
With the official gain 0.02 every SPADE's gamma and beta convs start tiny, so SPADE starts as its param-free norm.
"""

from __future__ import annotations

import torch
from torch import nn

from spade_lesson.layers.norms import BatchNorm2d as ScratchBatchNorm2d

INIT_TYPES = ("xavier", "xavier_uniform", "normal", "kaiming", "orthogonal", "none")
BATCH_NORMS = (nn.BatchNorm2d, nn.SyncBatchNorm, ScratchBatchNorm2d)


def _draw(weight: torch.Tensor, init_type: str, gain: float) -> None:
    """Re-draw one conv or linear weight in place by the official rule for init_type."""
    if init_type == "xavier":
        nn.init.xavier_normal_(weight, gain=gain)  # N(0, gain^2 * 2 / (fan_in + fan_out))
    elif init_type == "xavier_uniform":
        nn.init.xavier_uniform_(weight, gain=1.0)  # U(-a, a), a = sqrt(6 / (fan_in + fan_out)): gain 1, as officially
    elif init_type == "normal":
        nn.init.normal_(weight, mean=0.0, std=gain)  # N(0, gain^2)
    elif init_type == "kaiming":
        nn.init.kaiming_normal_(weight, a=0, mode="fan_in")  # N(0, 2 / fan_in)
    elif init_type == "orthogonal":
        nn.init.orthogonal_(weight, gain=gain)  # W W^T = gain^2 I (rows or columns, whichever are fewer)


def check_init(init_type: str, gain: float) -> None:
    """One-line errors for an unknown init_type or a gain (init_variance) that is not a positive number."""
    if init_type not in INIT_TYPES:
        raise ValueError(f"init_type={init_type!r} is not known: use one of {', '.join(INIT_TYPES)}")
    if not 0 < gain < float("inf"):
        raise ValueError(f"init_variance={gain} must be a positive number, e.g. the official 0.02")


def init_weights(module: nn.Module, init_type: str = "xavier", gain: float = 0.02) -> nn.Module:
    """Initialize module's BatchNorm, Conv2d and Linear layers in place as the official SPADE code does; returns it."""
    check_init(init_type, gain)
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, BATCH_NORMS):
                if layer.weight is not None:
                    nn.init.normal_(layer.weight, mean=1.0, std=gain)  # gamma ~ N(1, gain^2)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
            elif isinstance(layer, (nn.Conv2d, nn.Linear)):
                _draw(getattr(layer, "weight_orig", layer.weight), init_type, gain)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
    return module

"""Counting a network's size and cost: its learned scalars (`count_parameters`), the width that matches a parameter
budget (`closest_width`), and the multiply-adds of its convolutions (`conv_multiply_adds`, `conv_macs`)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def count_parameters(module: nn.Module) -> int:
    """Number of learned scalars in module (buffers such as running stats and spectral-norm vectors excluded)."""
    return sum(parameter.numel() for parameter in module.parameters())


def closest_width(build: Callable[[int], nn.Module], target: int) -> int:
    """The width w >= 1 whose build(w) has the parameter count closest to target (counts grow with w)."""
    def count(width: int) -> int:
        """Parameters of build(width), counted on the meta device (nothing allocated)."""
        with torch.device("meta"):
            return count_parameters(build(width))

    low, high = 1, 2
    while count(high) < target:  # double until build(high) is at least as large
        low, high = high, 2 * high
    while high - low > 1:  # bisect: count(low) < target <= count(high)
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) < target else (low, middle)
    return min((low, high), key=lambda width: abs(count(width) - target))


def conv_multiply_adds(conv: nn.Conv2d, output: torch.Tensor) -> int:
    """Multiply-adds of the call of conv that gave `output` (N, C_out, H, W): each output value sums C_in / groups *
    k_h * k_w products."""
    kernel_height, kernel_width = conv.kernel_size
    return output.numel() * (conv.in_channels // conv.groups) * kernel_height * kernel_width  # outputs x fan-in


def conv_macs(model: nn.Module, *inputs: torch.Tensor) -> dict[str, int]:
    """Multiply-adds of each Conv2d of model (by module name) in one forward pass of model(*inputs), batch included."""
    macs: dict[str, int] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            def hook(conv: nn.Conv2d, args: tuple, out: torch.Tensor, name: str = name) -> None:
                """Add this call's multiply-adds to the conv's total."""
                macs[name] = macs.get(name, 0) + conv_multiply_adds(conv, out)
            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return macs

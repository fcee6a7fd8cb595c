"""Counting a network's size: its learned scalars (`count_parameters`)."""

from __future__ import annotations

from torch import nn


def count_parameters(module: nn.Module) -> int:
    """Number of learned scalars in module (buffers such as running stats and spectral-norm vectors excluded)."""
    return sum(parameter.numel() for parameter in module.parameters())

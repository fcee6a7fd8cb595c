"""Turning an integer label map into the network input that SPADE reads (the paper's one-hot mask m)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = 255  # "don't care" pixels in every label map of the course


def checked_label(label: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """label: (N, H, W) int class ids -> (label as int64, mask of its don't-care pixels); one-line error if bad."""
    if label.dim() != 3 or label.dtype.is_floating_point:
        raise ValueError(f"label must be an integer tensor (N, H, W), got {tuple(label.shape)} {label.dtype}")
    label = label.long()
    ignore = label == IGNORE_INDEX
    bad = (~ignore) & ((label < 0) | (label >= num_classes))
    if bad.any():
        value = int(label[bad][0])
        raise ValueError(f"label holds class id {value}, outside 0..{num_classes - 1} (or {IGNORE_INDEX} = don't care)")
    return label, ignore


def one_hot(label: torch.Tensor, num_classes: int, dontcare: bool = False) -> torch.Tensor:
    """label: (N, H, W) int class ids (255 = don't care) -> float (N, num_classes [+1], H, W).

    With dontcare=True the last channel marks don't-care pixels (the official `contain_dontcare_label`);
    otherwise those pixels are all-zero vectors.
    """
    label, ignore = checked_label(label, num_classes)
    channels = num_classes + 1 if dontcare else num_classes
    index = label.masked_fill(ignore, num_classes if dontcare else 0)
    out = F.one_hot(index, channels).permute(0, 3, 1, 2).float()
    if not dontcare:
        out = out.masked_fill(ignore.unsqueeze(1), 0.0)
    return out


def instance_edges(instance: torch.Tensor) -> torch.Tensor:
    """instance: (N, H, W) int instance ids -> float (N, 1, H, W), 1 where a pixel's neighbour differs."""
    edge = torch.zeros_like(instance, dtype=torch.bool)
    horizontal = instance[:, :, 1:] != instance[:, :, :-1]
    vertical = instance[:, 1:, :] != instance[:, :-1, :]
    edge[:, :, 1:] |= horizontal
    edge[:, :, :-1] |= horizontal
    edge[:, 1:, :] |= vertical
    edge[:, :-1, :] |= vertical
    return edge.unsqueeze(1).float()

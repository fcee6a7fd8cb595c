"""Colours: draw class ids (and generated images) as pictures, and a default palette for datasets that bring none."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np
import torch

from spade_lesson.data.semantic import IGNORE_INDEX

GOLDEN_ANGLE = 0.381966  # fraction of the colour wheel between consecutive default hues; never repeats a hue


def default_palette(num_classes: int) -> list[tuple[int, int, int]]:
    """num_classes distinct RGB colours: hues spread by the golden angle, lightness alternating so neighbours differ."""
    colors = []
    for index in range(num_classes):
        hue = (index * GOLDEN_ANGLE) % 1.0
        lightness = (0.45, 0.65, 0.3)[index % 3]
        red, green, blue = colorsys.hls_to_rgb(hue, lightness, 0.75)
        colors.append((round(red * 255), round(green * 255), round(blue * 255)))
    return colors


def default_class_names(num_classes: int) -> list[str]:
    """Names for a dataset without dataset.json: "class 0", "class 1", ..."""
    return [f"class {index}" for index in range(num_classes)]


def check_palette(palette: Sequence[Sequence[int]], num_classes: int, who: str) -> list[tuple[int, int, int]]:
    """palette checked to hold at least num_classes (r, g, b) colours of ints 0..255 -> a list of int triples."""
    if isinstance(palette, (str, bytes)) or not isinstance(palette, Sequence):
        raise ValueError(f"{who}: palette is a {type(palette).__name__}; pass a list of (r, g, b) colours")
    if len(palette) < num_classes:
        raise ValueError(f"{who}: palette has {len(palette)} colours for {num_classes} classes; "
                         "pass one (r, g, b) per class")
    colors = []
    for index, color in enumerate(palette):
        if isinstance(color, (str, bytes)) or not isinstance(color, Sequence) or len(color) != 3 or not all(
                isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c <= 255 for c in color):
            raise ValueError(f"{who}: palette colour {index} is {color!r}; pass (r, g, b) with integers 0..255")
        colors.append(tuple(int(c) for c in color))
    return colors


def colorize(label: torch.Tensor, palette: Sequence[Sequence[int]]) -> torch.Tensor:
    """label: (H, W) int class ids -> uint8 (H, W, 3), each id drawn in its palette colour, 255 (don't care) black."""
    if label.dim() != 2 or label.dtype.is_floating_point:
        raise ValueError(f"colorize: label must be an integer tensor (H, W), got {tuple(label.shape)} {label.dtype}")
    num_classes = len(palette)
    if not 1 <= num_classes <= IGNORE_INDEX:
        raise ValueError(f"colorize: the palette has {num_classes} colours; give 1 to {IGNORE_INDEX} (one per class)")
    label = label.long()
    bad = (label != IGNORE_INDEX) & ((label < 0) | (label >= num_classes))
    if bad.any():
        raise ValueError(f"colorize: label holds class id {int(label[bad][0])} but the palette has {num_classes} "
                         f"colours (valid ids 0..{num_classes - 1}, or {IGNORE_INDEX} = don't care)")
    lookup = torch.zeros(256, 3, dtype=torch.uint8)
    lookup[:num_classes] = torch.tensor([tuple(color) for color in palette], dtype=torch.uint8).reshape(-1, 3)
    return lookup[label]


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    """image: (3, H, W) float in [-1, 1] -> uint8 (H, W, 3) on the CPU, the inverse of the loaders' x / 127.5 - 1."""
    return ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0)

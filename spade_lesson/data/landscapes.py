"""Landscapes: an offline dataset of procedural label maps and images, so the course runs without downloads."""

from __future__ import annotations

import operator

import numpy as np
import torch
from torch.utils.data import Dataset

from spade_lesson.data.paint import paint
from spade_lesson.data.scene import CLASS_NAMES, PALETTE, compose
from spade_lesson.data.style import draw_style

MIN_SIZE, MAX_SIZE = 32, 512


class Landscapes(Dataset):
    """Item i = {"label": (H, W) long class ids, "image": (3, H, W) float in [-1, 1]}, fixed by (seed, i)."""

    def __init__(self, size: int = 128, length: int = 256, seed: int = 3) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
            raise ValueError(f"Landscapes: size={size!r}; pass an int from {MIN_SIZE} to {MAX_SIZE} (square images)")
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"Landscapes: length={length!r}; pass a positive int (the number of items)")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"Landscapes: seed={seed!r}; pass a non-negative int")
        self.size, self.length, self.seed = size, length, seed
        self.class_names: list[str] = list(CLASS_NAMES)
        self.palette: list[tuple[int, int, int]] = list(PALETTE)
        self.num_classes: int = len(CLASS_NAMES)

    def __len__(self) -> int:
        """The number of items."""
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """Item `index`: its label map painted in its own style."""
        return self.render(index)

    def render(self, index: int, style: int | None = None, time_of_day: str | None = None) -> dict[str, torch.Tensor]:
        """Item `index`'s label map painted in look number `style` (default: index), optionally at time_of_day."""
        index = operator.index(index)
        if not -self.length <= index < self.length:
            raise IndexError(f"Landscapes: index {index} out of range for {self.length} items")
        index %= self.length
        style = index if style is None else operator.index(style)
        if style < 0:
            raise ValueError(f"Landscapes.render: style={style}; pass a non-negative int (any number is a new look)")
        # the label map comes from (seed, index) alone and the look from (seed, style) alone: one map, many images
        scene = compose(np.random.default_rng([self.seed, index, 0]), self.size)
        look = draw_style(np.random.default_rng([self.seed, style, 1]), self.num_classes, time_of_day)
        image = paint(scene, look, np.random.default_rng([self.seed, style, 2]))
        return {"label": torch.from_numpy(scene.label.astype(np.int64)),
                "image": torch.from_numpy(image) * 2.0 - 1.0}

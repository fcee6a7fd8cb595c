"""Pictures of a run: PNG files and the label | generated | real grid of the training samples."""

from __future__ import annotations

from pathlib import Path

import torch

from spade_lesson.atomic import atomic_write
from spade_lesson.data.palette import colorize, to_uint8


def write_png(image: torch.Tensor, path: Path) -> None:
    """image: uint8 (H, W, 3) -> PNG at path, atomically."""
    from PIL import Image

    with atomic_write(path) as file:
        Image.fromarray(image.cpu().numpy()).save(file, format="PNG")


def sample_grid(label: torch.Tensor, fake: torch.Tensor, real: torch.Tensor,
                palette: list[tuple[int, int, int]]) -> torch.Tensor:
    """One row per example: label map | generated | real. label (N, H, W), images (N, 3, H, W) in [-1, 1] -> uint8."""
    rows = [torch.cat([colorize(lab.cpu(), palette), to_uint8(f), to_uint8(r)], dim=1)
            for lab, f, r in zip(label, fake, real)]
    return torch.cat(rows, dim=0)

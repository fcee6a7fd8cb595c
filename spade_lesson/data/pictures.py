"""Pictures: PNG files, the label | generated | real grid of the training samples, and images drawn in notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from spade_lesson.data.palette import colorize, to_uint8
from spade_lesson.runtime.atomic import atomic_write


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


def show_image(image: torch.Tensor, ax: Any = None, title: str | None = None) -> Any:
    """Draw image (3, H, W), or a batch (N, 3, H, W) side by side, in [-1, 1] with matplotlib; returns the axes."""
    import matplotlib.pyplot as plt

    if image.dim() not in (3, 4) or image.shape[-3] != 3:
        raise ValueError(f"show_image: image has shape {tuple(image.shape)}; pass (3, H, W) or (N, 3, H, W) in [-1, 1]")
    picture = to_uint8(image) if image.dim() == 3 else torch.cat([to_uint8(item) for item in image], dim=1)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(12.0, 2.0 * picture.shape[1] / picture.shape[0]), 2.0), dpi=80)
    ax.imshow(picture.numpy(), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=9)
    return ax

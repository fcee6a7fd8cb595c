"""The controls that calibrate a score: painters with no learning, which a good metric must rank below real images.

`class_colours(dataset)`: each class's mean colour over a dataset's real images, (num_classes, 3).
`flat_painter(colours)(label)`: fills each region of a label map (N, H, W) with its class's colour, (N, 3, H, W);
`blurred_painter(colours, kernel_size)` the same, box-blurred. Both draw the layout perfectly and nothing else: a
layout score (mIoU) rates them near real images, a realism score should not.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from spade_lesson.data.batches import stack_items
from spade_lesson.data.semantic import IGNORE_INDEX

Painter = Callable[[torch.Tensor], torch.Tensor]


def class_colours(dataset: Dataset, num_images: int | None = None) -> torch.Tensor:
    """Mean RGB (in [-1, 1]) of each class's pixels over the first num_images real images: (num_classes, 3)."""
    batch = stack_items(dataset, len(dataset) if num_images is None else num_images)
    label, image = batch["label"], batch["image"]
    colours = torch.zeros(dataset.num_classes, 3)
    for index in range(dataset.num_classes):
        where = label == index
        if where.any():
            colours[index] = image.permute(1, 0, 2, 3)[:, where].mean(dim=1)
    return colours


def flat_painter(colours: torch.Tensor) -> Painter:
    """label (N, H, W) class ids -> (N, 3, H, W): every pixel its class's colour (don't-care pixels grey)."""
    def paint(label: torch.Tensor) -> torch.Tensor:
        known = label != IGNORE_INDEX
        picture = colours.to(label.device)[label.clamp(0, len(colours) - 1)]  # (N, H, W, 3)
        return (picture * known.unsqueeze(-1)).permute(0, 3, 1, 2).contiguous()
    return paint


def blurred_painter(colours: torch.Tensor, kernel_size: int = 5) -> Painter:
    """The flat painter's pictures box-blurred with a kernel_size x kernel_size mean (edges replicated)."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"blurred_painter: kernel_size={kernel_size}; pass an odd size >= 1")
    flat = flat_painter(colours)

    def paint(label: torch.Tensor) -> torch.Tensor:
        picture = F.pad(flat(label), [kernel_size // 2] * 4, mode="replicate")
        return F.avg_pool2d(picture, kernel_size, stride=1)
    return paint

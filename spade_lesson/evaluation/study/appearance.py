"""How much of a dataset's appearance its label map explains, and how much more the neighbouring classes add: the
share of the pixel colours' variance (R^2) that the mean colour of each group of pixels explains, for groups of

    class                                  (a flat per-class colour: what CLADE's lookup can express at best)
    class x neighbour class                (the most frequent other class within a window: what a 3x3 SPADE adds)
    class x image                          (each image's own look of each class: style)
    class x image x neighbour class

A small gain from the neighbour class says that, on this data, a pixel's appearance hardly depends on what is next to
it, so modulation read from the pixel's own class (CLADE, 1x1 SPADE, a concatenated map) loses little.

`explained_variance(dataset, num_images, window)` -> {grouping: R^2}.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from spade_lesson.data.batches import stack_items


def _r2(pixels: torch.Tensor, groups: torch.Tensor) -> float:
    """1 - residual / total sum of squares of pixels (P, 3) around their group means (groups: (P,) ids)."""
    keys, inverse = torch.unique(groups, return_inverse=True)
    sums = torch.zeros(len(keys), pixels.shape[1], dtype=torch.float64).index_add_(0, inverse, pixels)
    counts = torch.bincount(inverse, minlength=len(keys)).clamp(min=1).unsqueeze(1)
    residual = ((pixels - (sums / counts)[inverse]) ** 2).sum()
    return float(1 - residual / ((pixels - pixels.mean(dim=0)) ** 2).sum())


def explained_variance(dataset: Dataset, num_images: int, window: int = 7) -> dict[str, float]:
    """R^2 of the first num_images images' pixel colours by class, class x neighbour class (within window x window),
    class x image and class x image x neighbour class."""
    batch = stack_items(dataset, num_images)
    label, image, classes = batch["label"], batch["image"], dataset.num_classes
    pixels = image.permute(0, 2, 3, 1).reshape(-1, 3).double()
    own = F.one_hot(label.clamp(0, classes - 1), classes).permute(0, 3, 1, 2).float()  # (N, C, H, W)
    share = F.avg_pool2d(own, window, stride=1, padding=window // 2, count_include_pad=False)
    share = share.masked_fill(own.bool(), -1.0)  # other classes only
    neighbour = torch.where(share.amax(dim=1) > 0, share.argmax(dim=1), torch.full_like(label, classes))  # C: none
    which = torch.arange(len(label)).view(-1, 1, 1).expand_as(label)
    paired = label * (classes + 1) + neighbour
    groups = {"class": label, "class x neighbour class": paired, "class x image": label + classes * which,
              "class x image x neighbour class": paired + classes * (classes + 1) * which}
    return {name: _r2(pixels, ids.reshape(-1)) for name, ids in groups.items()}

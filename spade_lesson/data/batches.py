"""Items of a dataset as one batch: `stack_items(dataset, 4)` is the first four, `stack_items(dataset, [2, 7])` those.

Every key the items share is stacked, so a Landscapes or folder dataset gives {"label": (N, H, W) long class ids,
"image": (N, 3, H, W) in [-1, 1]} (and "instance" where the dataset has instance maps).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable

import torch
from torch.utils.data import Dataset


def stack_items(dataset: Dataset, items: int | Iterable[int]) -> dict[str, torch.Tensor]:
    """The first `items` items of dataset (an int), or the items at those indices, stacked key by key."""
    if isinstance(items, bool):
        raise TypeError(f"stack_items: items={items!r}; pass a count or a list of indices")
    if isinstance(items, int):
        count = operator.index(items)
        if not 1 <= count <= len(dataset):
            raise ValueError(f"stack_items: items={count}; the dataset has {len(dataset)} items, pass 1 to that")
        items = range(count)
    chosen = [dataset[index] for index in items]
    if not chosen:
        raise ValueError("stack_items: no indices given; pass a count or at least one index")
    keys = [key for key in chosen[0] if all(key in item for item in chosen)]
    return {key: torch.stack([item[key] for item in chosen]) for key in keys}


def check_dataset(dataset: object, where: str) -> None:
    """A one-line ValueError naming where unless dataset is a non-empty Dataset of {"label", "image"} items with
    num_classes, class_names and palette (what Landscapes and load_dataset give)."""
    missing = [name for name in ("__len__", "__getitem__", "num_classes", "class_names", "palette")
               if not hasattr(dataset, name)]
    if missing:
        raise ValueError(f"{where}: a {type(dataset).__name__} has no {', '.join(missing)}; pass a dataset such as "
                         "spade_lesson.data.load_dataset(...) or Landscapes(...)")
    if len(dataset) < 1:
        raise ValueError(f"{where}: the dataset is empty; pass one with at least one item")
    first = dataset[0]
    if not isinstance(first, dict) or not all(isinstance(first.get(key), torch.Tensor) for key in ("label", "image")):
        raise ValueError(f"{where}: items must be dicts with 'label' (H, W) and 'image' (3, H, W) tensors, got "
                         f"{type(first).__name__}")

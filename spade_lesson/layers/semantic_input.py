"""The generator's input m, built as the official code builds it (Pix2PixModel.preprocess_input), for training and
sampling alike.

`semantic_input(label, label_nc, contain_dontcare_label=False, no_instance=True, instance=None)`: label (N, H, W)
class ids -> float (N, semantic_nc, H, W): the one-hot map of label_nc classes; with contain_dontcare_label one more
channel marking the don't-care pixels (id 255, which the official datasets turn into class label_nc), else those pixels
are all-zero vectors; then, unless no_instance, the instance edge map (the official get_edges) of `instance`
(N, H, W) ids, or of the label map itself when no instance map is given (class boundaries standing in for instance
boundaries). With lookup=True the same map as a SegMap (class ids, the edges its extra channel) for the convs that
sum weight slices instead (spade_lesson.layers.onehot). `semantic_nc(...)`: its channel count, label_nc + 1 (don't
care) + 1 (edges), as options/base_options.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from spade_lesson.data.semantic import instance_edges, one_hot
from spade_lesson.layers.onehot import SegMap, cat_channels


def semantic_nc(label_nc: int, contain_dontcare_label: bool = False, no_instance: bool = True) -> int:
    """Channels of the generator's input: label_nc (+1 for the don't-care channel) (+1 for the instance edges)."""
    return label_nc + int(contain_dontcare_label) + int(not no_instance)


def input_options(config: Mapping[str, Any]) -> dict[str, bool]:
    """{"contain_dontcare_label", "no_instance"} as a run's settings (a checkpoint's config dict) say; a run from
    before those settings had neither (False, True). Pass them on to semantic_input, the Painter and evaluate."""
    return {"contain_dontcare_label": bool(config.get("contain_dontcare_label", False)),
            "no_instance": bool(config.get("no_instance", True))}


def semantic_input(label: torch.Tensor, label_nc: int, contain_dontcare_label: bool = False, no_instance: bool = True,
                   instance: torch.Tensor | None = None, lookup: bool = False) -> torch.Tensor | SegMap:
    """label: (N, H, W) ids (255 = don't care), instance: (N, H, W) ids or None -> m (N, semantic_nc, H, W) float,
    or its SegMap (lookup)."""
    if lookup:
        semantic = SegMap.from_labels(label, label_nc, dontcare=contain_dontcare_label)
    else:
        semantic = one_hot(label, label_nc, dontcare=contain_dontcare_label)
    if no_instance:
        return semantic
    if instance is None:
        instance = label
    elif instance.shape != label.shape:
        raise ValueError(f"instance map has shape {tuple(instance.shape)} but the label map {tuple(label.shape)}: "
                         "they must be the same size (resize both with nearest, or crop both alike)")
    return cat_channels(semantic, instance_edges(instance.to(label.device)))  # m = [one-hot, edges]

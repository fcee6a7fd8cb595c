"""Every metric of the study on one set of pictures of the validation maps: under each judge, mIoU and pixel accuracy
of the judge's segmentation against the maps (the paper's protocol: is the layout followed?), per-class IoU, and KID
in the judge's features against the real images of the same maps (spade_lesson.evaluation.realism: does it look
real?).

`Reference`: the validation maps and real images scored against, with each judge's features of the real images;
`score_pictures(pictures, reference, judges)` -> {judge seed: metrics}; `calibration_rows(...)` -> the controls'
records: real images (the ceiling of mIoU; other real renders of the same maps give KID's floor), the flat
class-colour painter and its box-blurred version (spade_lesson.evaluation.calibration: no learning at all).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from spade_lesson.data.batches import stack_items
from spade_lesson.data.semantic import one_hot
from spade_lesson.evaluation.calibration import blurred_painter, class_colours, flat_painter
from spade_lesson.evaluation.metrics import class_iou, confusion_matrix, miou, pixel_accuracy
from spade_lesson.evaluation.realism import judge_features, kid
from spade_lesson.evaluation.segmenter import UNet, segment

STYLE_OFFSET = 1000  # the floor's second real set: the same maps rendered in look i + STYLE_OFFSET
CALIBRATION_ROWS = ("real images", "flat painter", "blurred painter")


@dataclass
class Reference:
    """The first n validation maps (n, H, W), their real images (n, 3, H, W), and each judge's features of them."""

    label: torch.Tensor
    image: torch.Tensor
    features: dict[int, torch.Tensor]
    num_classes: int


def reference(val_data: Dataset, judges: dict[int, UNet], num_images: int) -> Reference:
    """The validation maps and real images every picture is scored against."""
    batch = stack_items(val_data, min(num_images, len(val_data)))
    features = {seed: judge_features(judge, batch["image"]) for seed, judge in judges.items()}
    return Reference(batch["label"], batch["image"], features, val_data.num_classes)


def score_pictures(pictures: torch.Tensor, ref: Reference, judges: dict[int, UNet],
                   batch_size: int = 64) -> dict[int, dict[str, Any]]:
    """pictures (n, 3, H, W) in [-1, 1] of ref's maps -> per judge seed {miou, accuracy, kid, class_iou}."""
    scores = {}
    for seed, judge in judges.items():
        device = next(judge.parameters()).device
        conf = torch.zeros(ref.num_classes, ref.num_classes, dtype=torch.long)
        for start in range(0, len(pictures), batch_size):
            predicted = segment(judge, pictures[start:start + batch_size].to(device).float())
            conf += confusion_matrix(predicted, ref.label[start:start + batch_size].to(device), ref.num_classes)
        per_class = [None if math.isnan(value) else value for value in class_iou(conf).tolist()]
        scores[seed] = {"miou": miou(conf), "accuracy": pixel_accuracy(conf),
                        "kid": kid(judge_features(judge, pictures), ref.features[seed]), "class_iou": per_class}
    return scores


@torch.no_grad()
def generate(generator: nn.Module, label: torch.Tensor, num_classes: int, batch_size: int = 64) -> torch.Tensor:
    """The generator's pictures (n, 3, H, W) of label maps (n, H, W), in eval mode, on the CPU."""
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    pictures = [generator(one_hot(label[start:start + batch_size].to(device), num_classes)).float().cpu()
                for start in range(0, len(label), batch_size)]
    generator.train(was_training)
    return torch.cat(pictures)


def other_real(val_data: Dataset, ref: Reference) -> torch.Tensor:
    """A second real set of the same maps (Landscapes: each map in another look); other data: the next n images."""
    n = len(ref.label)
    if hasattr(val_data, "render"):
        return torch.stack([val_data.render(i, style=i + STYLE_OFFSET)["image"] for i in range(n)])
    if len(val_data) < 2 * n:
        raise ValueError(f"the validation split has {len(val_data)} images; KID's floor needs 2 x eval_images = "
                         f"{2 * n}: lower --eval-images")
    return stack_items(val_data, range(n, 2 * n))["image"]


def calibration_rows(val_data: Dataset, train_data: Dataset, ref: Reference,
                     judges: dict[int, UNet]) -> list[dict[str, Any]]:
    """One record per (control, judge): every metric of the real images, the flat painter and the blurred painter."""
    colours = class_colours(train_data)  # each class's mean colour over the training images
    real = score_pictures(ref.image, ref, judges)  # mIoU of the real images: the ceiling
    floor = score_pictures(other_real(val_data, ref), ref, judges)  # KID of real against real: the floor
    rows = {"real images": {seed: {**real[seed], "kid": floor[seed]["kid"]} for seed in judges},
            "flat painter": score_pictures(flat_painter(colours)(ref.label), ref, judges),
            "blurred painter": score_pictures(blurred_painter(colours)(ref.label), ref, judges)}
    return [{"row": row, "judge_seed": seed, **rows[row][seed]} for row in CALIBRATION_ROWS for seed in judges]

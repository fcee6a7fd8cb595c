"""Segmentation scores: the confusion matrix, pixel accuracy and mean intersection-over-union (mIoU)."""

from __future__ import annotations

import torch

from spade_lesson.data.semantic import IGNORE_INDEX


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """pred, target: int class ids of one shape -> (num_classes, num_classes) counts, rows = target, cols = pred."""
    if pred.shape != target.shape:
        raise ValueError(f"confusion_matrix: pred {tuple(pred.shape)} and target {tuple(target.shape)} must have "
                         f"the same shape")
    if pred.dtype.is_floating_point or target.dtype.is_floating_point:
        raise ValueError("confusion_matrix: pred and target must be integer class ids; take argmax over scores first")
    keep = target != ignore_index
    pred, target = pred[keep].long(), target[keep].long()
    for name, ids in (("pred", pred), ("target", target)):
        bad = (ids < 0) | (ids >= num_classes)
        if bad.any():
            raise ValueError(f"confusion_matrix: {name} holds class id {int(ids[bad][0])}, outside "
                             f"0..{num_classes - 1} (target may also hold ignore_index={ignore_index})")
    flat = target * num_classes + pred  # cell (t, p) of the matrix, read row-major
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes).cpu()


def _check_nonempty(conf: torch.Tensor) -> None:
    """Refuse a matrix that is not square or counts no pixel."""
    if conf.dim() != 2 or conf.shape[0] != conf.shape[1]:
        raise ValueError(f"expected a square confusion matrix, got shape {tuple(conf.shape)}")
    if conf.sum() == 0:
        raise ValueError("the confusion matrix counts no pixel (all ignored?): score at least one labelled pixel")


def pixel_accuracy(conf: torch.Tensor) -> float:
    """Fraction of counted pixels whose predicted class is the target class."""
    _check_nonempty(conf)
    return float(conf.diagonal().sum()) / float(conf.sum())  # sum_c TP_c / all pixels


def miou(conf: torch.Tensor) -> float:
    """Mean over classes of TP / (TP + FP + FN), leaving out classes absent from both prediction and target."""
    _check_nonempty(conf)
    conf = conf.double()
    tp = conf.diagonal()
    union = conf.sum(dim=0) + conf.sum(dim=1) - tp  # TP + FP + FN
    present = union > 0
    return float((tp[present] / union[present]).mean())  # IoU_c = TP_c / (TP_c + FP_c + FN_c), averaged


def class_iou(conf: torch.Tensor) -> torch.Tensor:
    """Per-class IoU (num_classes,) in float64, NaN for a class absent from both prediction and target."""
    _check_nonempty(conf)
    conf = conf.double()
    tp = conf.diagonal()
    union = conf.sum(dim=0) + conf.sum(dim=1) - tp  # TP + FP + FN
    return torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))  # IoU_c

"""spade_lesson.evaluation.metrics on small hand-computed cases."""

from __future__ import annotations

import pytest
import torch

from spade_lesson.evaluation.metrics import class_iou, confusion_matrix, miou, pixel_accuracy


def test_confusion_matrix_counts_rows_target_cols_pred_and_skips_ignored() -> None:
    target = torch.tensor([[0, 0, 1], [1, 2, 255]])
    pred = torch.tensor([[0, 1, 1], [1, 0, 2]])
    conf = confusion_matrix(pred, target, num_classes=3)
    expected = torch.tensor([[1, 1, 0],
                             [0, 2, 0],
                             [1, 0, 0]])
    assert torch.equal(conf, expected)


def test_hand_computed_scores() -> None:
    conf = torch.tensor([[1, 1, 0],
                         [0, 2, 0],
                         [1, 0, 0]])
    assert pixel_accuracy(conf) == pytest.approx(3 / 5)
    # IoU: class 0 = 1 / (2 + 2 - 1), class 1 = 2 / (3 + 2 - 2), class 2 = 0 / (0 + 1 - 0)
    assert miou(conf) == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)


def test_classes_absent_from_pred_and_target_are_left_out_of_miou() -> None:
    target = torch.tensor([0, 0, 1, 1])
    pred = torch.tensor([0, 1, 1, 1])
    conf = confusion_matrix(pred, target, num_classes=5)
    # classes 2..4 appear nowhere; class 0: 1 / 2, class 1: 2 / 3
    assert miou(conf) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert pixel_accuracy(conf) == pytest.approx(3 / 4)


def test_perfect_prediction_scores_one() -> None:
    target = torch.randint(0, 4, (2, 8, 8), generator=torch.Generator().manual_seed(0))
    conf = confusion_matrix(target.clone(), target, num_classes=4)
    assert miou(conf) == 1.0 and pixel_accuracy(conf) == 1.0
    assert int(conf.sum()) == target.numel()


def test_custom_ignore_index() -> None:
    conf = confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, -1, 1]), num_classes=2, ignore_index=-1)
    assert torch.equal(conf, torch.tensor([[1, 0], [0, 1]]))


def test_bad_inputs_give_clear_errors() -> None:
    with pytest.raises(ValueError, match="same shape"):
        confusion_matrix(torch.zeros(3, dtype=torch.long), torch.zeros(4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="integer class ids"):
        confusion_matrix(torch.zeros(3), torch.zeros(3, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="pred holds class id 7"):
        confusion_matrix(torch.tensor([7]), torch.tensor([0]), 2)
    with pytest.raises(ValueError, match="target holds class id 3"):
        confusion_matrix(torch.tensor([0]), torch.tensor([3]), 2)
    with pytest.raises(ValueError, match="counts no pixel"):
        miou(confusion_matrix(torch.tensor([0]), torch.tensor([255]), 2))
    with pytest.raises(ValueError, match="square"):
        pixel_accuracy(torch.ones(2, 3))


def test_class_iou_by_hand_and_nan_for_absent_classes() -> None:
    conf = torch.tensor([[1, 1, 0, 0],
                         [0, 2, 0, 0],
                         [1, 0, 0, 0],
                         [0, 0, 0, 0]])
    iou = class_iou(conf)
    assert iou[:3].tolist() == pytest.approx([1 / 3, 2 / 3, 0.0])
    assert torch.isnan(iou[3])
    assert float(iou.nanmean()) == pytest.approx(miou(conf))

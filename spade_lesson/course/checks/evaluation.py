"""Checks of the exercises in notebook 06, evaluation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from spade_lesson.course.checks.core import Cases, Mistake, _isolated, _randn
from spade_lesson.evaluation.fid import frechet_distance, sqrtm_psd
from spade_lesson.evaluation.metrics import class_iou, miou


@_isolated
def check_miou_from_confusion(miou_from_confusion: Callable[..., Any]) -> None:
    """Exercise 06.1: miou_from_confusion(conf) against spade_lesson.evaluation.metrics.miou."""
    settings = [("two classes", torch.tensor([[3, 1], [0, 4]])),
                ("a class never predicted right", torch.tensor([[1, 1, 0], [0, 2, 0], [1, 0, 0]])),
                ("a class absent from target and prediction", torch.tensor([[5, 0, 0], [0, 0, 0], [2, 0, 1]])),
                ("random 6 classes", torch.randint(20, (6, 6)))]
    cases = Cases("check_miou_from_confusion", len(settings))
    for description, conf in settings:
        cases.case(f"{description}, conf {conf.tolist()}" if len(conf) <= 3 else description)
        counts = conf.double()
        tp, rows, columns = counts.diagonal(), counts.sum(dim=1), counts.sum(dim=0)
        got = cases.call(miou_from_confusion, conf.clone())
        cases.close("mIoU", got, miou(conf),
                    "per class: the pixels both maps give it over the pixels either map gives it; then which classes "
                    "enter the mean?",
                    [Mistake("pixel accuracy, not mIoU", "score each class by its intersection over its union",
                             tp.sum() / counts.sum()),
                     Mistake("absent classes counted as IoU 0", "a class in neither map has no IoU: leave it out of "
                             "the mean", class_iou(conf).nan_to_num().mean()),
                     Mistake("absent classes left as NaN", "a class in neither map has union 0: average over the "
                             "others", class_iou(conf).mean()),
                     Mistake("TP counted twice in the union", "union = row sum + column sum - TP",
                             (tp / (rows + columns))[rows + columns > 0].mean()),
                     Mistake("per-class recall, TP / (TP + FN)", "the union also holds the false positives",
                             (tp / rows)[rows > 0].mean()),
                     Mistake("per-class precision, TP / (TP + FP)", "the union also holds the false negatives",
                             (tp / columns)[columns > 0].mean())],
                    atol=1e-9)
    cases.passed()


@_isolated
def check_frechet_distance(my_frechet_distance: Callable[..., Any]) -> None:
    """Exercise 06.2: my_frechet_distance(mu1, sigma1, mu2, sigma2) against the diagonal closed form and fid's."""
    cases = Cases("check_frechet_distance", 5)

    def mistakes(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> list[Mistake]:
        """The typical wrong distances for these Gaussians."""
        mu1, sigma1, mu2, sigma2 = (t.double() for t in (mu1, sigma1, mu2, sigma2))
        root1 = sqrtm_psd(sigma1)
        cross = torch.linalg.eigvalsh(root1 @ sigma2 @ root1).clamp(min=0).sqrt().sum()
        means, traces = (mu1 - mu2).square().sum(), sigma1.trace() + sigma2.trace()
        return [Mistake("the factor 2 of the cross term left out", "the cross term is 2 tr((sigma1 sigma2)^1/2)",
                        means + traces - cross),
                Mistake("the means' term left out", "the distance starts with |mu1 - mu2|^2", traces - 2 * cross),
                Mistake("the means' distance not squared", "|mu1 - mu2|^2, the squared distance",
                        means.sqrt() + traces - 2 * cross),
                Mistake("the square roots taken separately", "tr(sigma1^1/2 sigma2^1/2) equals tr((sigma1 "
                        "sigma2)^1/2) only when the covariances commute",
                        means + traces - 2 * (root1 @ sqrtm_psd(sigma2)).trace()),
                Mistake("eigvalsh of the non-symmetric sigma1 @ sigma2", "eigvalsh reads one triangle of a symmetric "
                        "matrix; make the product symmetric first",
                        means + traces - 2 * torch.linalg.eigvalsh(sigma1 @ sigma2).clamp(min=0).sqrt().sum())]

    hint = "|mu1 - mu2|^2 plus the covariance term; for it the product of two covariances needs a symmetric form"
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 4.0, 1.0])
    mu1, mu2 = torch.zeros(3), torch.tensor([1.0, 2.0, 2.0])
    cases.case("diagonal covariances, dim 3")
    closed_form = (mu1 - mu2).square().sum() + (a.sqrt() - b.sqrt()).square().sum()  # commuting covariances
    cases.close("distance", cases.call(my_frechet_distance, mu1, torch.diag(a), mu2, torch.diag(b)), closed_form,
                hint, mistakes(mu1, torch.diag(a), mu2, torch.diag(b)), atol=1e-6)
    cases.case("a Gaussian against itself, dim 4")
    root, mean = _randn(4, 4), _randn(4)
    got = cases.call(my_frechet_distance, mean, root @ root.T, mean.clone(), root @ root.T)
    cases.close("distance", got, 0.0, "the distance of a Gaussian to itself is 0",
                mistakes(mean, root @ root.T, mean, root @ root.T), atol=1e-6)
    for dim in (2, 5, 16):
        cases.case(f"random covariances that do not commute, dim {dim}")
        x, y = _randn(dim, dim), _randn(dim, dim)
        m1, m2 = _randn(dim), _randn(dim)
        expected = frechet_distance(m1, x @ x.T, m2, y @ y.T)
        cases.close("distance", cases.call(my_frechet_distance, m1, x @ x.T, m2, y @ y.T), expected, hint,
                    mistakes(m1, x @ x.T, m2, y @ y.T), atol=1e-6, rtol=1e-6)
    cases.passed()

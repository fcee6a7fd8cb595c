"""Checks of the exercises in notebook 02, the wash-out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.course.checks.core import Cases, Mistake, _isolated, _randn
from spade_lesson.course.probe import RIDGE, fit_probe
from spade_lesson.data.semantic import one_hot
from spade_lesson.evaluation.metrics import confusion_matrix, miou, pixel_accuracy


@_isolated
def check_uniform_map_response(uniform_map_response: Callable[..., Any]) -> None:
    """Exercise 02.1: uniform_map_response(weight, bias, class_id) against a reflect-padded conv of a uniform map."""
    settings = [(9, 16, 3), (4, 5, 1), (3, 2, 5)]
    cases = Cases("check_uniform_map_response", len(settings))
    for label_nc, out_channels, kernel_size in settings:
        cases.case(f"conv {label_nc} -> {out_channels} channels, kernel {kernel_size}x{kernel_size}")
        conv = nn.Conv2d(label_nc, out_channels, kernel_size, padding=kernel_size // 2, padding_mode="reflect")
        conv = conv.double()
        uniform = torch.arange(label_nc).reshape(label_nc, 1, 1).expand(label_nc, 8, 8)  # map k: all class k
        with torch.no_grad():
            response = conv(one_hot(uniform, label_nc).double())  # (label_nc, out_channels, 8, 8), each uniform
        weight, bias = conv.weight.detach(), conv.bias.detach()
        centre = kernel_size // 2
        for class_id in range(label_nc):
            got = cases.call(uniform_map_response, weight.clone(), bias.clone(), class_id)
            taps = weight[:, class_id]  # (out_channels, k, k): the weights that meet channel class_id
            cases.close(f"class {class_id}", got, response[class_id, :, 4, 4],
                        "in a uniform map only channel class_id holds ones: which weights meet a 1 under the kernel, "
                        "and what does the conv add to their products?",
                        [Mistake("the bias left out", "the conv adds its bias to every output", taps.sum(dim=(1, 2))),
                         Mistake("a mean instead of a sum over the kernel", "every tap adds its weight times 1",
                                 taps.mean(dim=(1, 2)) + bias),
                         Mistake("the centre tap only", "on a uniform map every tap of the kernel sees a 1",
                                 taps[:, centre, centre] + bias),
                         Mistake("a sum over every input channel", "only channel class_id holds ones; the others "
                                 "are 0", weight.sum(dim=(1, 2, 3)) + bias)])
    cases.passed()


def _ridge_reference(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, num_classes: int,
                     ridge: float) -> torch.Tensor:
    """The ridge probe's predictions, solved as an augmented least-squares problem (independent of the notebook's)."""
    mean = x_train.mean(dim=0)
    centred = x_train - mean
    targets = F.one_hot(y_train, num_classes).double()
    prior = targets.mean(dim=0)
    features = centred.shape[1]
    # min |X W - (Y - prior)|^2 + lambda P |W|^2 = min |[X; sqrt(lambda P) I] W - [Y - prior; 0]|^2
    rows = torch.cat([centred, (ridge * len(centred)) ** 0.5 * torch.eye(features, dtype=torch.float64)])
    goals = torch.cat([targets - prior, torch.zeros(features, num_classes, dtype=torch.float64)])
    weight = torch.linalg.lstsq(rows, goals).solution
    return ((x_test - mean) @ weight + prior).argmax(dim=1)


def _ridge_variant(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, num_classes: int,
                   penalty: float, centre: bool = True, add_prior: bool = True) -> torch.Tensor:
    """A ridge probe's predictions from the normal equations, with the choices a wrong answer makes differently."""
    mean = x_train.mean(dim=0) if centre else torch.zeros_like(x_train[0])
    x = x_train - mean
    targets = F.one_hot(y_train, num_classes).double()
    prior = targets.mean(dim=0)
    system = x.T @ x + penalty * torch.eye(x.shape[1], dtype=torch.float64)
    weight = torch.linalg.lstsq(system, x.T @ (targets - prior)).solution
    return ((x_test - mean) @ weight + (prior if add_prior else 0)).argmax(dim=1)


@_isolated
def check_ridge_probe(ridge_probe: Callable[..., Any]) -> None:
    """Exercise 02.2: ridge_probe(x_train, y_train, x_test, num_classes, ridge) against least squares and fit_probe."""
    settings = [(4, 3, RIDGE, 2.0), (8, 5, 1.0, 0.3), (6, 4, RIDGE, 0.0)]  # features, classes, ridge, separation
    cases = Cases("check_ridge_probe", len(settings))
    for features, num_classes, ridge, separation in settings:
        cases.case(f"{features} features, {num_classes} classes, ridge={ridge}"
                   + (f", centres spread {separation}" if separation else ", constant features"))
        centres = _randn(num_classes, features) * separation
        noise = 1.0 if separation else 0.0
        y_train = torch.randint(num_classes, (240,))
        y_test = torch.randint(num_classes, (120,))
        x_train = torch.round(centres[y_train] + noise * _randn(240, features), decimals=3)
        x_test = torch.round(centres[y_test] + noise * _randn(120, features), decimals=3)
        pred = cases.call(ridge_probe, x_train.clone(), y_train.clone(), x_test.clone(), num_classes, ridge=ridge)
        expected = _ridge_reference(x_train, y_train, x_test, num_classes, ridge)
        scaled = ridge * len(x_train)
        problem = (x_train, y_train, x_test, num_classes)
        cases.same("predicted class", pred, expected,
                   "the probe centres the features, fits the centred one-hot targets with a ridge penalty, and adds "
                   "the class prior back before the argmax",
                   [Mistake("the ridge left out", "add ridge * P to the diagonal of X^T X",
                            _ridge_variant(*problem, penalty=0.0)),
                    Mistake("a ridge not multiplied by the number of samples P", "the penalty is ridge * P, so that "
                            "ridge means the same for any number of samples", _ridge_variant(*problem, penalty=ridge)),
                    Mistake("uncentred features", "subtract the training features' mean, from the test features too",
                            _ridge_variant(*problem, penalty=scaled, centre=False)),
                    Mistake("the prior not added back", "the weights fit Y - prior: add the prior to the scores",
                            _ridge_variant(*problem, penalty=scaled, add_prior=False))])
        if ridge == RIDGE:
            probe = fit_probe(x_train[:, :, None, None], y_train[:, None, None], x_test[:, :, None, None],
                              y_test[:, None, None], num_classes)
            conf = confusion_matrix(torch.as_tensor(pred).long(), y_test, num_classes)
            cases.close("pixel accuracy", pixel_accuracy(conf), probe.pixel_accuracy,
                        "your predictions should score what spade_lesson.course.probe.fit_probe scores")
            cases.close("mIoU", miou(conf), probe.miou,
                        "your predictions should score what spade_lesson.course.probe.fit_probe scores")
    cases.passed()

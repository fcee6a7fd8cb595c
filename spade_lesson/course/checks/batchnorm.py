"""Checks of the exercises in notebook 01, BatchNorm from scratch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.course.checks.core import Cases, Mistake, _channels, _isolated, _randn

PER_SAMPLE = "per-sample statistics (instance norm's, not batch norm's)"


@_isolated
def check_batch_norm_train(batch_norm_train: Callable[..., Any]) -> None:
    """Exercise 01.1: batch_norm_train(x, weight, bias, eps) -> (out, mean, var) against F.batch_norm."""
    settings = [((6, 3, 4, 5), 1e-3), ((2, 4, 3, 3), 1e-5), ((8, 1, 2, 2), 0.1), ((1, 2, 5, 7), 1e-5)]
    cases = Cases("check_batch_norm_train", len(settings))
    dims = (0, 2, 3)
    for shape, eps in settings:
        cases.case(f"x {shape}, eps={eps}")
        x = _randn(*shape) * 2 - 1
        weight, bias = _randn(shape[1]), _randn(shape[1])
        out, mean, var = cases.call(batch_norm_train, x.clone(), weight.clone(), bias.clone(), eps=eps, returns=3)
        cases.close("mean", mean, x.mean(dim=dims),
                    "one mean per channel: over which dimensions does a channel's statistic run in BatchNorm?",
                    [Mistake(PER_SAMPLE, "BatchNorm pools each channel over the whole batch", x.mean(dim=(2, 3))),
                     Mistake("the mean over the batch dimension only", "a channel's mean runs over every position "
                             "too", x.mean(dim=0)),
                     Mistake("one mean for the whole tensor", "there is one mean per channel", x.mean())])
        biased, unbiased = x.var(dim=dims, unbiased=False), x.var(dim=dims)
        cases.close("var", var, biased, "the variance of each channel over the same values as its mean; which "
                    "estimator does normalization use?",
                    [Mistake("the unbiased variance", "normalization divides by m = N * H * W, not m - 1", unbiased),
                     Mistake("the standard deviation instead of the variance", "return the square of the spread",
                             biased.sqrt()),
                     Mistake(PER_SAMPLE, "BatchNorm pools each channel over the whole batch",
                             x.var(dim=(2, 3), unbiased=False))])
        centred = x - _channels(x.mean(dim=dims))
        cases.close("out", out, F.batch_norm(x, None, None, weight, bias, training=True, eps=eps),
                    "normalize with the statistics you return, then scale by weight and shift by bias, per channel",
                    [Mistake("instance norm instead of batch norm", "normalize with the batch's statistics of each "
                             "channel, not each image's own", F.instance_norm(x, weight=weight, bias=bias, eps=eps)),
                     Mistake("the unbiased variance in the normalization", "divide by sqrt(biased variance + eps)",
                             centred / _channels((unbiased + eps).sqrt()) * _channels(weight) + _channels(bias)),
                     Mistake("eps outside the square root", "eps goes inside: sqrt(var + eps)",
                             centred / _channels(biased.sqrt() + eps) * _channels(weight) + _channels(bias)),
                     Mistake("a division by the variance", "divide by the standard deviation sqrt(var + eps)",
                             centred / _channels(biased + eps) * _channels(weight) + _channels(bias)),
                     Mistake("weight and bias swapped", "weight scales, bias shifts",
                             F.batch_norm(x, None, None, bias, weight, training=True, eps=eps)),
                     Mistake("the affine part left out", "scale by weight and shift by bias after normalizing",
                             F.batch_norm(x, None, None, training=True, eps=eps))])
    cases.passed()


def _blend(old: torch.Tensor, new: torch.Tensor, factor: float) -> torch.Tensor:
    """(1 - factor) * old + factor * new."""
    return (1 - factor) * old + factor * new


def _momentum_mistakes(old: torch.Tensor, new: torch.Tensor, factor: float, momentum: float | None,
                       num_batches_tracked: int) -> list[Mistake]:
    """The typical wrong updates of one running statistic (new: the value the right update blends in)."""
    found = [Mistake("momentum on the old value", "momentum is the weight of the NEW batch statistic",
                     _blend(old, new, 1 - factor))]
    if momentum is None:
        found += [Mistake("momentum=None treated as a fixed momentum", "None asks for a cumulative average, whose "
                          "weight shrinks as batches are counted", _blend(old, new, 0.1)),
                  Mistake("an off-by-one cumulative average", "num_batches_tracked already counts this batch",
                          _blend(old, new, 1 / (num_batches_tracked + 1)))]
    return found


@_isolated
def check_update_running(update_running: Callable[..., Any]) -> None:
    """Exercise 01.2: update_running(...) -> (running_mean, running_var) against nn.BatchNorm2d's buffers."""
    momenta = [0.1, 0.7, None]
    cases = Cases("check_update_running", len(momenta))
    m = 4 * 2 * 3
    for momentum in momenta:
        cases.case(f"momentum={momentum}, 3 batches")
        reference = nn.BatchNorm2d(3, momentum=momentum).double()
        running_mean, running_var = reference.running_mean.clone(), reference.running_var.clone()
        for t in range(1, 4):
            x = _randn(4, 3, 2, 3) * t + t
            reference(x)
            mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
            old_mean, old_var = running_mean.clone(), running_var.clone()
            running_mean, running_var = cases.call(update_running, old_mean.clone(), old_var.clone(), t, mean, var,
                                                   m=m, momentum=momentum, returns=2)
            factor = 1 / t if momentum is None else momentum
            hint = "a moving average: a blend of the old running value and this batch's statistic"
            cases.close(f"running_mean after batch {t}", running_mean, reference.running_mean, hint,
                        _momentum_mistakes(old_mean, mean, factor, momentum, t))
            unbiased = var * m / (m - 1)
            cases.close(f"running_var after batch {t}", running_var, reference.running_var,
                        hint + "; which variance does nn.BatchNorm2d keep for inference?",
                        [Mistake("the biased variance stored", "the running variance is the UNBIASED one: "
                                 "var * m / (m - 1)", _blend(old_var, var, factor))]
                        + _momentum_mistakes(old_var, unbiased, factor, momentum, t))
    cases.passed()


@_isolated
def check_group_norm(my_group_norm: Callable[..., Any]) -> None:
    """Exercise 01.3: my_group_norm(x, num_groups, eps) against F.group_norm."""
    settings = [((3, 6, 4, 5), 1), ((3, 6, 4, 5), 2), ((3, 6, 4, 5), 3), ((3, 6, 4, 5), 6), ((2, 8, 3, 1), 4)]
    cases = Cases("check_group_norm", len(settings))
    eps = 1e-3
    for shape, groups in settings:
        cases.case(f"x {shape}, num_groups={groups}")
        x = _randn(*shape) * 3 + 1
        n, c = shape[:2]
        grouped = x.reshape(n, groups, -1)
        unbiased = ((grouped - grouped.mean(dim=2, keepdim=True)) / (grouped.var(dim=2, keepdim=True) + eps).sqrt())
        strided = x.reshape(n, c // groups, groups, *shape[2:]).transpose(1, 2)  # group g: channels g, g + G, ...
        out = cases.call(my_group_norm, x.clone(), groups, eps=eps)
        cases.close("output", out, F.group_norm(x, groups, eps=eps),
                    "each group is C // num_groups neighbouring channels of one sample, with all their positions",
                    [Mistake("instance norm (one group per channel)", "the channels of a group share their statistics; "
                             "only num_groups == C gives one channel per group", F.instance_norm(x, eps=eps)),
                     Mistake("layer norm (one group for all channels)", "split the channels into num_groups groups",
                             F.layer_norm(x, shape[1:], eps=eps)),
                     Mistake("the unbiased variance", "normalization divides by the number of values m, not m - 1",
                             unbiased.reshape(shape)),
                     Mistake("channels grouped by stride", "a group holds neighbouring channels: reshape (N, C, ...) "
                             "straight to (N, G, ...)",
                             F.group_norm(strided.reshape(shape), groups, eps=eps).reshape(strided.shape)
                             .transpose(1, 2).reshape(shape))])
    cases.passed()

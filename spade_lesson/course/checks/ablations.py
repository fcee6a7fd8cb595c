"""Checks of the exercises in notebook 08, the paper's ablations in miniature."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.course.checks.core import Cases, Mistake, _isolated
from spade_lesson.data.semantic import one_hot
from spade_lesson.layers.clade import CLADE
from spade_lesson.layers.spade import SPADE
from spade_lesson.models.variants import norm_macs


def _clade_mistakes(x: torch.Tensor, segmap: torch.Tensor, gamma: torch.Tensor,
                    beta: torch.Tensor) -> list[Mistake]:
    """Typical wrong CLADE forwards with the outputs they give (the bilinear one only where the map is resized)."""
    def modulate(normalized: torch.Tensor, mode: str = "nearest", scale: float = 1.0) -> torch.Tensor:
        """normalized * (scale + gamma) + beta with the tables read through the map resized by `mode`."""
        resized = F.interpolate(segmap, size=x.shape[2:], mode=mode)
        g, b = torch.einsum("nlhw,lc->nchw", resized, gamma), torch.einsum("nlhw,lc->nchw", resized, beta)
        return normalized * (scale + g) + b

    batch = F.batch_norm(x, None, None, training=True)
    mistakes = [
        Mistake("the scale gamma instead of 1 + gamma", "a table of zeros must leave the normalized x unchanged: "
                "scale by one plus gamma", modulate(batch, scale=0.0)),
        Mistake("per-image statistics (InstanceNorm)", "normalize with batch statistics, over N, H and W per channel",
                modulate(F.instance_norm(x))),
        Mistake("x modulated without being normalized", "normalize x first with the batch's mean and variance",
                modulate(x)),
    ]
    resized = F.interpolate(segmap, size=x.shape[2:], mode="nearest")
    if (resized.sum(1) == 0).any():
        index = resized.argmax(dim=1)  # an all-zero vector's argmax is class 0
        mistakes.append(Mistake("pixels of no class (all-zero vectors) read as class 0", "weight the table's rows by "
                                "the one-hot vector itself, so an all-zero vector gives a zero row",
                                batch * (1 + gamma[index].permute(0, 3, 1, 2)) + beta[index].permute(0, 3, 1, 2)))
    if segmap.shape[2:] != x.shape[2:]:
        mistakes.append(Mistake("a bilinear resize of the label map (it mixes classes at region borders)",
                                "resize the label map with mode='nearest'", modulate(batch, "bilinear")))
    return mistakes


@_isolated
def check_clade_forward(clade_forward: Callable[..., Any]) -> None:
    """Exercise 08.1: clade_forward(x, segmap, gamma_table, beta_table) against spade_lesson.layers.clade.CLADE."""
    settings = [(6, 4, (16, 16), (16, 16), False), (3, 5, (8, 8), (32, 32), False), (4, 3, (8, 12), (16, 24), True)]
    cases = Cases("check_clade_forward", len(settings))
    for norm_nc, label_nc, size, map_size, dont_care in settings:
        cases.case(f"x (4, {norm_nc}, {size[0]}, {size[1]}), segmap (4, {label_nc}, {map_size[0]}, {map_size[1]})"
                   + (" with don't-care pixels" if dont_care else ""))
        reference = CLADE(norm_nc, label_nc)
        with torch.no_grad():
            reference.gamma.normal_()
            reference.beta.normal_()
        x = torch.randn(4, norm_nc, *size) * 2 + 1
        segmap = one_hot(torch.randint(label_nc, (4, *map_size)), label_nc)
        if dont_care:
            segmap[:, :, ::2, ::2] = 0  # every other pixel has no class: spade_lesson.data.one_hot's all-zero vector
        gamma, beta = reference.gamma.detach().clone(), reference.beta.detach().clone()
        with torch.no_grad():
            got = cases.call(clade_forward, x, segmap, gamma, beta)
            expected = reference(x, segmap)
        cases.close("output", got, expected,
                    "gamma at a pixel is the row of gamma_table for that pixel's class (an all-zero vector, no "
                    "class, gives a zero row), read after the map is resized to x's size",
                    _clade_mistakes(x, segmap, gamma, beta), atol=1e-5, rtol=1e-4)
    cases.passed()


class _OneSPADE(nn.Module):
    """One SPADE layer called like a generator, forward(semantic), on a zero activation of the map's size."""

    def __init__(self, spade: nn.Module, norm_nc: int) -> None:
        super().__init__()
        self.spade, self.norm_nc = spade, norm_nc

    def forward(self, semantic: torch.Tensor) -> torch.Tensor:
        """semantic: (1, label_nc, H, W) -> the layer's output (1, norm_nc, H, W)."""
        return self.spade(torch.zeros(1, self.norm_nc, *semantic.shape[2:]), semantic)


@_isolated
def check_spade_branch_macs(spade_branch_macs: Callable[..., Any]) -> None:
    """Exercise 08.2: spade_branch_macs(norm_nc, label_nc, hidden, kernel_size, height, width) against
    spade_lesson.models.variants.norm_macs counting one SPADE layer."""
    settings = [(16, 9, 32, 3, 8, 8), (256, 9, 32, 3, 4, 4), (4, 3, 8, 1, 16, 12), (8, 5, 16, 5, 6, 10)]
    cases = Cases("check_spade_branch_macs", len(settings))
    for norm_nc, label_nc, hidden, kernel_size, height, width in settings:
        cases.case(f"norm_nc={norm_nc}, label_nc={label_nc}, hidden={hidden}, kernel_size={kernel_size}, "
                   f"{height} x {width}")
        layer = SPADE(norm_nc, label_nc, hidden=hidden, kernel_size=kernel_size)
        expected = norm_macs(_OneSPADE(layer, norm_nc), label_nc, height, width)
        got = cases.call(spade_branch_macs, norm_nc, label_nc, hidden, kernel_size, height, width)
        positions, k2 = height * width, kernel_size**2
        shared, one_map, modulation = label_nc * hidden * k2, hidden * norm_nc * k2, norm_nc
        mistakes = [
            Mistake("one of mlp_gamma and mlp_beta counted", "gamma and beta each have their own conv: count it twice",
                    positions * (shared + one_map + modulation)),
            Mistake("mlp_shared left out", "the shared conv (label_nc -> hidden) runs first: count it too",
                    positions * (2 * one_map + modulation)),
            Mistake("the modulation left out (one multiply-add per output value)",
                    "add one multiply-add per output value for x_hat * (1 + gamma) + beta",
                    positions * (shared + 2 * one_map)),
            Mistake("C_in products per output value, not C_in * k * k",
                    "each output value of a k x k conv sums one product per input channel and kernel tap",
                    positions * (label_nc * hidden + 2 * hidden * norm_nc + modulation)),
        ]
        cases.equal("multiply-adds", got, expected,
                    "count every conv of the branch at every position, and the scale and shift", mistakes)
    cases.passed()

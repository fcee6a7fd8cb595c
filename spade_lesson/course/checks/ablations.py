"""Checks of the exercises in notebook 08, the paper's ablations in miniature."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.course.checks.core import Cases, _isolated
from spade_lesson.data.semantic import one_hot
from spade_lesson.layers.clade import CLADE
from spade_lesson.layers.spade import SPADE
from spade_lesson.models.variants import norm_macs


def _clade_mistakes(x: torch.Tensor, segmap: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> dict[str, Any]:
    """Outputs of typical wrong CLADE forwards, each under the hint that names the mistake (None: not testable)."""
    def modulate(normalized: torch.Tensor, mode: str = "nearest", scale: float = 1.0) -> torch.Tensor:
        """normalized * (scale + gamma) + beta with the tables read through the map resized by `mode`."""
        resized = F.interpolate(segmap, size=x.shape[2:], mode=mode)
        g, b = torch.einsum("nlhw,lc->nchw", resized, gamma), torch.einsum("nlhw,lc->nchw", resized, beta)
        return normalized * (scale + g) + b

    batch = F.batch_norm(x, None, None, training=True)
    return {
        "the scale is 1 + gamma, not gamma (a table of zeros must leave the normalized x unchanged)":
            modulate(batch, scale=0.0),
        "normalize with batch statistics (over N, H, W per channel), not per image (that is InstanceNorm)":
            modulate(F.instance_norm(x)),
        "normalize x first: (x - mean) / sqrt(var + eps) with the batch's mean and variance": modulate(x),
        "resize the label map with mode='nearest': bilinear mixes classes at region borders":
            modulate(batch, "bilinear") if segmap.shape[2:] != x.shape[2:] else None,
    }


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
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            for hint, wrong in _clade_mistakes(x, segmap, gamma, beta).items():
                if wrong is not None and torch.allclose(got.double(), wrong.double(), atol=1e-5, rtol=1e-4):
                    cases.fail(hint)
        cases.close("output", got, expected,
                    "gamma at a pixel is the row of gamma_table for that pixel's class (an all-zero vector, no "
                    "class, gives a zero row), read after the map is resized to x's size", atol=1e-5, rtol=1e-4)
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
        mistakes = {
            positions * (shared + one_map + modulation): "gamma and beta each have their own conv: count it twice",
            positions * (2 * one_map + modulation): "the shared conv (label_nc -> hidden) runs first: count it too",
            positions * (shared + 2 * one_map): "add one multiply-add per output value for x_hat * (1 + gamma) + beta",
            positions * (label_nc * hidden + 2 * hidden * norm_nc + modulation):
                "each output value of a k x k conv sums C_in * k * k products, not C_in",
        }
        if got in mistakes and got != expected:
            cases.fail(f"expected {expected}, got {got}: {mistakes[got]}")
        cases.equal("multiply-adds", got, expected,
                    "count every conv of the branch at every position (a k x k conv sums C_in * k * k products per "
                    "output value), and the scale and shift")
    cases.passed()

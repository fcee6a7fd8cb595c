"""Checks of the exercises in notebook 03, SPADE."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.course.checks.core import Cases, Mistake, _brief, _isolated
from spade_lesson.data.semantic import one_hot
from spade_lesson.layers.spade import SPADE
from spade_lesson.models.one_predictor import SPADE2d, assign_modulation_maps


def _spade_maps(reference: SPADE, segmap: torch.Tensor, size: tuple[int, int],
                mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """gamma, beta of a SPADE layer from segmap (N, label_nc, h, w) resized to size with F.interpolate's mode."""
    embedding = reference.mlp_shared(F.interpolate(segmap, size=size, mode=mode))
    return reference.mlp_gamma(embedding), reference.mlp_beta(embedding)


@_isolated
def check_spade_forward(spade_forward: Callable[..., Any]) -> None:
    """Exercise 03.1: spade_forward(x, segmap, mlp_shared, mlp_gamma, mlp_beta) against
    spade_lesson.layers.spade.SPADE."""
    settings = [(6, 4, 16, (32, 32), (64, 64)), (3, 5, 8, (16, 16), (16, 16)), (4, 3, 8, (16, 24), (8, 12))]
    cases = Cases("check_spade_forward", len(settings))
    for norm_nc, label_nc, hidden, size, map_size in settings:
        cases.case(f"x (4, {norm_nc}, {size[0]}, {size[1]}), segmap (4, {label_nc}, {map_size[0]}, {map_size[1]})")
        reference = SPADE(norm_nc, label_nc, hidden=hidden)  # batch norm without affine, in training mode
        x = torch.randn(4, norm_nc, *size) * 2 + 1
        segmap = one_hot(torch.randint(label_nc, (4, *map_size)), label_nc)
        with torch.no_grad():
            got = cases.call(spade_forward, x.clone(), segmap.clone(), reference.mlp_shared, reference.mlp_gamma,
                             reference.mlp_beta)
            expected = reference(x, segmap)
            normalized = F.batch_norm(x, None, None, training=True)
            gamma, beta = _spade_maps(reference, segmap, size, "nearest")
            bilinear = _spade_maps(reference, segmap, size, "bilinear")
            exact = _spade_maps(reference, segmap, size, "nearest-exact")
            mistakes = [
                Mistake("missing `1 +`", "gamma is learned as a change around 1: a layer whose gamma is 0 must leave "
                        "the normalized x as it is", normalized * gamma + beta),
                Mistake("a bilinear resize of the label map", "bilinear blends neighbouring classes into fractions; "
                        "SPADE resizes with the nearest neighbour so each pixel keeps one class",
                        normalized * (1 + bilinear[0]) + bilinear[1]),
                Mistake("'nearest-exact' instead of 'nearest'", "the official code and this course use "
                        "F.interpolate's mode='nearest'",
                        normalized * (1 + exact[0]) + exact[1]),
                Mistake("instance norm instead of batch norm", "this SPADE's parameter-free norm is BatchNorm: "
                        "statistics over the batch and the positions", F.instance_norm(x) * (1 + gamma) + beta),
                Mistake("no normalization", "normalize x first (no learned affine), then modulate it",
                        x * (1 + gamma) + beta),
                Mistake("gamma and beta swapped", "mlp_gamma's output scales, mlp_beta's shifts",
                        normalized * (1 + beta) + gamma),
            ]
        cases.close("output", got, expected, "compare each step with Eq. (1) above: normalize x, resize the map, "
                    "embed it, then modulate", mistakes, atol=1e-5, rtol=1e-4)
    cases.passed()


@_isolated
def check_split_params(split_params: Callable[..., Any]) -> None:
    """Exercise 03.2: split_params(num_features, params) against
    spade_lesson.models.one_predictor.assign_modulation_maps."""
    settings = [[3, 5, 2], [4], [1, 1, 6]]
    cases = Cases("check_split_params", len(settings))
    for num_features in settings:
        cases.case(f"num_features={num_features}")
        layers = nn.Sequential(*[SPADE2d(c) for c in num_features])
        params = torch.randn(2, 2 * sum(num_features), 6, 6)
        assign_modulation_maps(layers, params)
        weights_first = list(zip(params[:, :sum(num_features)].split(num_features, dim=1),
                                 params[:, sum(num_features):].split(num_features, dim=1)))
        got = cases.call(split_params, list(num_features), params.clone())
        if not isinstance(got, (list, tuple)) or len(got) != len(num_features):
            cases.fail(f"expected a list of {len(num_features)} (weight, bias) pairs, got {_brief(got)}")
        for index, (pair, layer) in enumerate(zip(got, layers)):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                cases.fail(f"layer {index}: expected a (weight, bias) pair, got {_brief(pair)}")
            hint = "the layers take their channels from params in order, each its weight and its bias"
            for what, value, position in (("weight", layer.weight, 0), ("bias", layer.bias, 1)):
                cases.close(f"layer {index} {what}", pair[position], value, hint,
                            [Mistake("weight and bias swapped", "of a layer's 2 * C_l channels the first C_l are "
                                     "its weight", (layer.bias, layer.weight)[position]),
                             Mistake("all the weights first, then all the biases", "each layer takes its weight "
                                     "and its bias next to each other", weights_first[index][position])],
                            atol=0.0, rtol=0.0)
    cases.passed()

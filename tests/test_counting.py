"""spade_lesson.layers.counting: learned scalars, the width matching a parameter budget, and conv multiply-adds, each
checked against a count by hand."""

from __future__ import annotations

import torch
from torch import nn

from spade_lesson.layers.counting import closest_width, conv_macs, conv_multiply_adds, count_parameters


def test_count_parameters_counts_learned_scalars_only() -> None:
    conv = torch.nn.utils.spectral_norm(nn.Conv2d(2, 3, kernel_size=3))
    assert count_parameters(nn.Sequential(conv, nn.BatchNorm2d(3))) == 3 * 2 * 9 + 3 + 2 * 3


def test_closest_width_picks_the_nearest_count() -> None:
    assert closest_width(lambda width: torch.nn.Linear(width, 10, bias=False), 234) == 23  # 230 beats 240
    assert closest_width(lambda width: torch.nn.Linear(width, 10, bias=False), 236) == 24


def test_conv_macs_by_hand() -> None:
    conv = nn.Conv2d(3, 5, kernel_size=3, padding=1)
    assert conv_macs(conv, torch.zeros(2, 3, 8, 8)) == {"": 2 * 5 * 8 * 8 * 3 * 9}
    two = nn.Sequential(nn.Conv2d(5, 4, kernel_size=1), nn.ReLU(), nn.Conv2d(4, 10, kernel_size=1, groups=2))
    assert conv_macs(two, torch.zeros(1, 5, 4, 4)) == {"0": 16 * 4 * 5, "2": 16 * 10 * 2}  # groups=2: fan-in 4 / 2
    assert not any(conv._forward_hooks for conv in two.modules())


def test_one_conv_call_costs_its_outputs_times_its_fan_in() -> None:
    conv = nn.Conv2d(6, 4, kernel_size=(3, 1), groups=2)
    assert conv_multiply_adds(conv, torch.zeros(3, 4, 5, 7)) == 3 * 4 * 5 * 7 * (6 // 2) * 3

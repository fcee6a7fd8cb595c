"""Checks of the exercises in notebook 04, the networks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from spade_lesson.course.checks.core import Cases, Mistake, _isolated
from spade_lesson.layers.counting import count_parameters
from spade_lesson.layers.spade import SPADE
from spade_lesson.models.discriminator import NLayerDiscriminator
from spade_lesson.models.generator import latent_size


@_isolated
def check_spade_parameter_count(spade_parameter_count: Callable[..., Any]) -> None:
    """Exercise 04.1: spade_parameter_count(norm_nc, label_nc, hidden, kernel_size) against a built SPADE."""
    settings = [(64, 9, 128, 3), (1024, 184, 128, 3), (8, 3, 16, 5), (16, 1, 32, 1)]
    cases = Cases("check_spade_parameter_count", len(settings))
    for norm_nc, label_nc, hidden, k in settings:
        cases.case(f"norm_nc={norm_nc}, label_nc={label_nc}, hidden={hidden}, kernel_size={k}")
        with torch.device("meta"):  # shapes only: no memory, no time
            expected = count_parameters(SPADE(norm_nc, label_nc, hidden=hidden, kernel_size=k))
        shared, branch = (label_nc * k * k + 1) * hidden, (hidden * k * k + 1) * norm_nc
        got = cases.call(spade_parameter_count, norm_nc, label_nc, hidden, k)
        cases.equal("parameters", got, expected,
                    "count the three convs of SPADE (shared, gamma, beta): the weights and the biases of each",
                    [Mistake("the biases left out", "each conv has one bias per output channel",
                             (label_nc * hidden + 2 * hidden * norm_nc) * k * k),
                     Mistake("the kernel counted as k, not k * k", "a k x k kernel has k * k weights per pair of "
                             "channels", (label_nc * k + 1) * hidden + 2 * (hidden * k + 1) * norm_nc),
                     Mistake("one of mlp_gamma and mlp_beta counted", "gamma and beta have a conv each",
                             shared + branch),
                     Mistake("mlp_shared left out", "the label map goes through the shared conv first", 2 * branch),
                     Mistake("affine parameters counted in the norm", "SPADE's norm is parameter-free: gamma and beta "
                             "come from the label map", shared + 2 * branch + 2 * norm_nc)])
    cases.passed()


@_isolated
def check_start_size(start_size: Callable[..., Any]) -> None:
    """Exercise 04.2: start_size(crop_size, aspect_ratio, num_upsampling_layers) against generator.latent_size."""
    settings = [(256, 1.0, "normal"), (512, 2.0, "normal"), (512, 2.0, "more"), (1024, 1.0, "most"),
                (128, 1.0, "normal")]
    doublings = {"normal": 5, "more": 6, "most": 7}
    cases = Cases("check_start_size", len(settings))
    for crop_size, aspect_ratio, mode in settings:
        cases.case(f"crop_size={crop_size}, aspect_ratio={aspect_ratio}, {mode!r}")
        got = cases.call(start_size, crop_size, aspect_ratio, mode)
        got = tuple(got) if isinstance(got, (tuple, list)) else got
        height, width = latent_size(crop_size, aspect_ratio, mode)
        off = [(round(w / aspect_ratio), w) for w in (crop_size >> (doublings[mode] - 1),
                                                      crop_size >> (doublings[mode] + 1))]
        cases.equal("(height, width)", got, (height, width),
                    "the generator doubles its size once per upsampling layer; the aspect ratio is width / height",
                    [Mistake("height and width swapped", "return (height, width)", (width, height)),
                     Mistake("the height multiplied by the aspect ratio", "aspect_ratio = width / height",
                             (round(width * aspect_ratio), width)),
                     Mistake("one doubling too many", "'normal' doubles 5 times, 'more' 6, 'most' 7", off[1]),
                     Mistake("one doubling too few", "'normal' doubles 5 times, 'more' 6, 'most' 7", off[0])])
    cases.passed()


def _grid(size: int, n_layers_D: int, padding_plus_one: bool = True, last_two: bool = True) -> int:
    """The PatchGAN logit grid's side, computed with or without the steps a wrong answer forgets."""
    for _ in range(n_layers_D - 1):
        size = size // 2 + int(padding_plus_one)
    return size + 2 * int(last_two)


@_isolated
def check_patch_grid_size(patch_grid_size: Callable[..., Any]) -> None:
    """Exercise 04.3: patch_grid_size(size, n_layers_D) against the logits of a real NLayerDiscriminator."""
    settings = [(128, 4), (64, 4), (256, 3), (37, 2)]
    cases = Cases("check_patch_grid_size", len(settings))
    for size, n_layers_D in settings:
        cases.case(f"size={size}, n_layers_D={n_layers_D}")
        net = NLayerDiscriminator(in_channels=1, n_layers_D=n_layers_D, ndf=2)
        with torch.no_grad():
            expected = net(torch.zeros(1, 1, size, size))[-1].shape[-1]
        got = cases.call(patch_grid_size, size, n_layers_D)
        cases.equal("logit grid side", got, expected,
                    "follow the side through every conv: kernel 4, padding 2, and its stride",
                    [Mistake("a plain division by 2**(n_layers_D - 1)", "a conv with kernel 4 and padding 2 maps n "
                             "to n // stride + 1", size // 2 ** (n_layers_D - 1)),
                     Mistake("the + 1 of each stride-2 conv left out", "kernel 4 with padding 2 maps n to "
                             "n // 2 + 1", _grid(size, n_layers_D, padding_plus_one=False)),
                     Mistake("the last two convs (stride 1) left out", "each of them adds 1 to the side",
                             _grid(size, n_layers_D, last_two=False))])
    cases.passed()

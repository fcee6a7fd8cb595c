"""Tests for spade_lesson.models.variants: shapes, sizes, where a one-pixel label detail reaches the image, counted
costs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from spade_lesson.layers.clade import CLADE
from spade_lesson.layers.counting import count_parameters
from spade_lesson.models.generator import SPADEGenerator
from spade_lesson.models.variants import MATCH_TOLERANCE, VARIANTS, build_variant, norm_macs

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

SMALL = {"ngf": 2, "spade_hidden": 4, "crop_size": 64}
EVERY_BLOCK_WITH_BATCHNORM = ("spade", "concat", "spade_1x1", "clade")  # eval mode: a pixel's effect stays local
INPUT_ONLY = ("input_bn", "input_nonorm")  # the detail must cross the 2 x 2 start map


def _one_hot(label: torch.Tensor, classes: int) -> torch.Tensor:
    """label: (N, H, W) -> (N, classes, H, W) float."""
    return F.one_hot(label, classes).permute(0, 3, 1, 2).float()


def _small(name: str) -> torch.nn.Module:
    """The variant at a tiny width, CLADE's tables random so that classes differ from the first step."""
    torch.manual_seed(0)
    generator = build_variant(name, 5, **SMALL)
    for module in generator.modules():
        if isinstance(module, CLADE):
            with torch.no_grad():
                module.gamma.normal_()
                module.beta.normal_()
    return generator


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_makes_images_from_a_label_map_and_refuses_a_style(name: str) -> None:
    generator = _small(name)
    semantic = _one_hot(torch.randint(5, (2, 64, 64)), 5)
    image = generator(semantic, z=None)
    assert image.shape == (2, 3, 64, 64) and image.abs().max() <= 1
    image.mean().backward()
    assert all(parameter.grad is not None for parameter in generator.parameters())
    with pytest.raises(ValueError, match="no style input|use_vae=False"):
        generator(semantic, z=torch.randn(2, 8))


@pytest.mark.slow
@pytest.mark.parametrize("shape", [{"ngf": 16, "spade_hidden": 32}, {"ngf": 32, "spade_hidden": 64}])
def test_matched_variants_are_within_ten_percent_of_spade_and_clade_is_smaller(shape: dict) -> None:
    with torch.device("meta"):
        sizes = {name: count_parameters(build_variant(name, 9, spectral=False, **shape)) for name in VARIANTS}
    for name, variant in VARIANTS.items():
        ratio = sizes[name] / sizes["spade"]
        if variant.matched:
            assert abs(ratio - 1) <= MATCH_TOLERANCE, (name, ratio)
        else:
            assert ratio < 1 - MATCH_TOLERANCE, (name, ratio)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_segmap_of_class_ids_draws_what_the_dense_one_hot_map_draws(name: str) -> None:
    from spade_lesson.layers.onehot import SegMap

    generator = _small(name).eval()  # in training mode each call would step spectral norm's power iteration
    label = torch.randint(5, (2, 64, 64), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        dense, ids = generator(_one_hot(label, 5)), generator(SegMap.from_labels(label, 5))
    torch.testing.assert_close(ids, dense, atol=1e-5, rtol=1e-4)


def _pixel_effect(name: str) -> torch.Tensor:
    """|G(map with one changed pixel at (33, 33)) - G(map)| summed over colors, (64, 64), in eval mode."""
    generator = _small(name)
    label = torch.randint(5, (1, 64, 64), generator=torch.Generator().manual_seed(1))
    dotted = label.clone()
    dotted[0, 33, 33] = (label[0, 33, 33] + 1) % 5  # an odd pixel: no downsampled copy of the map contains it
    with torch.no_grad():  # running statistics = this map's (momentum None averages 1 batch), so tanh is not saturated
        for module in generator.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = None
                module.reset_running_stats()
        generator(_one_hot(label, 5))
        generator.eval()
        return (generator(_one_hot(dotted, 5)) - generator(_one_hot(label, 5))).abs().sum(dim=1)[0]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_one_pixel_detail_reaches_the_output_near_that_pixel(name: str) -> None:
    assert _pixel_effect(name)[30:37, 30:37].max() > 1e-5


@pytest.mark.parametrize("name", EVERY_BLOCK_WITH_BATCHNORM)
def test_with_the_label_in_every_block_the_effect_stays_local(name: str) -> None:
    effect = _pixel_effect(name)
    outside = effect.clone()
    outside[33 - 8:33 + 9, 33 - 8:33 + 9] = 0  # the last block's and conv_img's receptive field is inside this
    assert outside.max() == 0


@pytest.mark.parametrize("name", INPUT_ONLY)
def test_with_the_label_at_the_input_only_the_effect_spreads_through_the_start_map(name: str) -> None:
    effect = _pixel_effect(name)
    far = effect.clone()
    far[33 - 16:33 + 17, 33 - 16:33 + 17] = 0
    assert far.max() > 1e-6


def _spade_layers(ngf: int) -> list[tuple[int, int]]:
    """(channels, positions) of every SPADE/CLADE layer of the crop-32 generator, written out by hand for ngf=1."""
    assert ngf == 1
    return [(16, 1), (16, 1),  # head_0 at 1 x 1
            (16, 4), (16, 4), (16, 4), (16, 4),  # G_middle_0, G_middle_1 at 2 x 2
            (16, 16), (8, 16), (16, 16),  # up_0 at 4 x 4: norm_0, norm_1, norm_s
            (8, 64), (4, 64), (8, 64),  # up_1 at 8 x 8
            (4, 256), (2, 256), (4, 256),  # up_2 at 16 x 16
            (2, 1024), (1, 1024), (2, 1024)]  # up_3 at 32 x 32


@pytest.mark.parametrize("kernel_size", [1, 3])
def test_spade_norm_macs_match_a_hand_count(kernel_size: int) -> None:
    labels, hidden, k2 = 3, 2, kernel_size**2
    generator = SPADEGenerator(labels, ngf=1, crop_size=32, spade_hidden=hidden, kernel_size=kernel_size)
    # per SPADE layer and position: the shared conv (labels -> hidden), gamma and beta (hidden -> C), x_hat (1+g) + b
    expected = sum(positions * (labels * hidden * k2 + 2 * hidden * channels * k2 + channels)
                   for channels, positions in _spade_layers(1))
    assert norm_macs(generator, labels, 32, 32) == expected


def test_clade_norm_macs_are_the_scale_and_shift_alone_and_no_norm_costs_nothing() -> None:
    clade = build_variant("clade", 3, ngf=1, crop_size=32)
    assert norm_macs(clade, 3, 32, 32) == sum(channels * positions for channels, positions in _spade_layers(1))
    assert norm_macs(build_variant("input_nonorm", 3, ngf=1, crop_size=32), 3, 32, 32) == 0


def test_affine_norm_macs_count_one_per_normalized_value() -> None:
    concat = build_variant("concat", 3, ngf=1, crop_size=32)
    blocks = [concat.get_submodule(block.name) for block in concat.plan]
    normalized = []
    hooks = [norm.register_forward_hook(lambda module, args, out: normalized.append(out[0].numel()))
             for block in blocks for norm in (block.norm_0, block.norm_1, getattr(block, "norm_s", None)) if norm]
    macs = norm_macs(concat, 3, 32, 32)
    for hook in hooks:
        hook.remove()
    assert macs == sum(normalized) > 0


def test_norm_macs_leave_the_generator_in_its_mode() -> None:
    generator = build_variant("spade", 3, ngf=1, crop_size=32).train()
    norm_macs(generator, 3, 32, 32)
    assert generator.training


def test_an_unknown_variant_is_named_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="'pix2pix' is not known: use one of spade, concat"):
        build_variant("pix2pix", 3)

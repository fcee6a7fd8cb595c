"""Tests for spade_lesson.layers.clade: CLADE is the class-conditional BatchNorm that SPADE is on a uniform map."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.layers.clade import CLADE
from spade_lesson.layers.spade import SPADE

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _one_hot(label: torch.Tensor, classes: int) -> torch.Tensor:
    """label: (N, H, W) -> (N, classes, H, W) float."""
    return F.one_hot(label, classes).permute(0, 3, 1, 2).float()


def _random_tables(clade: CLADE, seed: int = 0) -> None:
    """Give CLADE's tables random rows, so that every class modulates differently."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        clade.gamma.copy_(torch.randn(clade.gamma.shape, generator=generator))
        clade.beta.copy_(torch.randn(clade.beta.shape, generator=generator))


@pytest.mark.parametrize("label", [0, 3])
def test_on_a_uniform_map_clade_is_torchs_batchnorm_with_that_class_row_as_affine(label: int) -> None:
    clade = CLADE(norm_nc=6, label_nc=4)
    _random_tables(clade)
    x = torch.randn(3, 6, 5, 7)
    segmap = _one_hot(torch.full((3, 5, 7), label), 4)
    batchnorm = nn.BatchNorm2d(6, affine=True)
    with torch.no_grad():
        batchnorm.weight.copy_(1 + clade.gamma[label])  # the class's row as the ordinary affine parameters
        batchnorm.bias.copy_(clade.beta[label])
    torch.testing.assert_close(clade(x, segmap), batchnorm(x))


def test_spade_with_1x1_kernels_is_clade_with_spades_response_to_each_class_as_the_table() -> None:
    torch.manual_seed(0)
    spade, clade = SPADE(norm_nc=6, label_nc=4, hidden=5, kernel_size=1), CLADE(norm_nc=6, label_nc=4)
    with torch.no_grad():  # row c = what SPADE's branch makes of a pixel of class c
        classes = torch.eye(4).reshape(4, 4, 1, 1)
        embedding = spade.mlp_shared(classes)
        clade.gamma.copy_(spade.mlp_gamma(embedding).flatten(1))
        clade.beta.copy_(spade.mlp_beta(embedding).flatten(1))
    x, segmap = torch.randn(2, 6, 8, 8), _one_hot(torch.randint(4, (2, 8, 8)), 4)
    torch.testing.assert_close(clade(x, segmap), spade(x, segmap))


def test_spade_3x3_on_a_uniform_map_is_clade_away_from_the_border() -> None:
    torch.manual_seed(0)
    spade, clade = SPADE(norm_nc=6, label_nc=4, hidden=5, kernel_size=3), CLADE(norm_nc=6, label_nc=4)
    x, segmap = torch.randn(2, 6, 10, 10), _one_hot(torch.full((2, 10, 10), 2), 4)
    with torch.no_grad():  # SPADE's gamma, beta at an interior pixel of the uniform map: constant there
        embedding = spade.mlp_shared(segmap)
        gamma, beta = spade.mlp_gamma(embedding), spade.mlp_beta(embedding)
        assert torch.allclose(gamma[..., 2:-2, 2:-2], gamma[..., 5:6, 5:6].expand_as(gamma[..., 2:-2, 2:-2]))
        clade.gamma[2].copy_(gamma[0, :, 5, 5])
        clade.beta[2].copy_(beta[0, :, 5, 5])
    expected, got = spade(x, segmap), clade(x, segmap)
    torch.testing.assert_close(got[..., 2:-2, 2:-2], expected[..., 2:-2, 2:-2])
    assert not torch.allclose(got[..., 0, :], expected[..., 0, :])  # zero padding: the border sees "no class"


def test_each_pixel_reads_its_own_class_row_and_dont_care_pixels_are_left_alone() -> None:
    clade = CLADE(norm_nc=3, label_nc=4, param_free_norm="instance")
    _random_tables(clade)
    label = torch.randint(4, (1, 6, 6))
    segmap = _one_hot(label, 4)
    segmap[0, :, 1, 2] = 0  # a don't-care pixel (spade_lesson.data.one_hot's all-zero vector)
    gamma, beta = clade.modulation(segmap)
    assert torch.equal(gamma[0, :, 4, 5], clade.gamma[label[0, 4, 5]].detach())
    assert torch.equal(beta[0, :, 0, 0], clade.beta[label[0, 0, 0]].detach())
    assert not gamma[0, :, 1, 2].any() and not beta[0, :, 1, 2].any()
    x = torch.randn(1, 3, 6, 6)
    torch.testing.assert_close(clade(x, segmap)[0, :, 1, 2], F.instance_norm(x)[0, :, 1, 2])


def test_only_the_rows_of_present_classes_learn() -> None:
    clade = CLADE(norm_nc=3, label_nc=5)
    x = torch.randn(2, 3, 4, 4)
    segmap = _one_hot(torch.randint(2, (2, 4, 4)), 5)  # classes 0 and 1 only
    clade(x, segmap).pow(2).sum().backward()
    assert clade.gamma.grad[:2].abs().sum() > 0 and not clade.gamma.grad[2:].any()


def test_a_fresh_clade_scales_each_class_by_a_draw_in_0_1_and_shifts_nothing() -> None:
    torch.manual_seed(0)
    clade = CLADE(norm_nc=64, label_nc=9)
    scale = 1 + clade.gamma.detach()
    assert scale.min() >= 0 and scale.max() <= 1 and scale.std() > 0.2  # uniform in [0, 1], as Tan et al. start it
    assert not clade.beta.any()
    x, segmap = torch.randn(2, 64, 4, 4), _one_hot(torch.full((2, 4, 4), 3), 9)
    torch.testing.assert_close(clade(x, segmap), F.batch_norm(x, None, None, training=True) * scale[3, :, None, None])


def test_the_label_map_is_resized_to_the_features() -> None:
    clade = CLADE(norm_nc=2, label_nc=3)
    _random_tables(clade)
    segmap = _one_hot(torch.randint(3, (1, 16, 16)), 3)
    assert clade(torch.randn(2, 2, 4, 4), segmap.expand(2, -1, -1, -1)).shape == (2, 2, 4, 4)

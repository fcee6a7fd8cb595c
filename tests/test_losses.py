"""Tests for spade_lesson.training.losses: every term against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torchvision.models import vgg19

from spade_lesson.training import losses


def _outputs(*logits: list[float], features: list[float] | None = None) -> list[list[torch.Tensor]]:
    """A fake multiscale discriminator output: one scale per logits list, optional one feature before the logits."""
    scales = []
    for values in logits:
        scale = [torch.tensor(features).view(1, 1, 1, -1)] if features is not None else []
        scale.append(torch.tensor(values).view(1, 1, 1, -1))
        scales.append(scale)
    return scales


def test_hinge_discriminator_by_hand():
    fake, real = losses.discriminator_loss(_outputs([-0.5, 1.0], [-2.0, -1.0]), _outputs([0.5, 2.0], [1.0, -1.0]))
    # fake: scale 1 mean(relu(1 + x)) = (0.5 + 2) / 2 = 1.25, scale 2 = (0 + 0) / 2 = 0 -> mean 0.625
    # real: scale 1 mean(relu(1 - x)) = (0.5 + 0) / 2 = 0.25, scale 2 = (0 + 2) / 2 = 1 -> mean 0.625
    assert fake.item() == pytest.approx(0.625)
    assert real.item() == pytest.approx(0.625)


def test_hinge_generator_by_hand():
    # -mean(x): scale 1 -> -(0.5 + 1.5) / 2 = -1, scale 2 -> -(-3) = 3 -> mean 1
    assert losses.generator_loss(_outputs([0.5, 1.5], [-3.0])).item() == pytest.approx(1.0)


def test_least_squares_by_hand():
    fake, real = losses.discriminator_loss(_outputs([0.5, -1.0]), _outputs([3.0]), gan_mode="ls")
    assert fake.item() == pytest.approx((0.25 + 1.0) / 2)  # mean(x^2)
    assert real.item() == pytest.approx(4.0)  # (3 - 1)^2
    assert losses.generator_loss(_outputs([0.5, -1.0]), gan_mode="ls").item() == pytest.approx((0.25 + 4.0) / 2)


def test_original_is_binary_cross_entropy_by_hand():
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731  -log(sigmoid(-v)) = log(1 + e^v)
    fake, real = losses.discriminator_loss(_outputs([0.3]), _outputs([1.2]), gan_mode="original")
    assert fake.item() == pytest.approx(softplus(0.3))  # -log(1 - sigmoid(0.3))
    assert real.item() == pytest.approx(softplus(-1.2))  # -log(sigmoid(1.2))
    assert losses.generator_loss(_outputs([0.3]), gan_mode="original").item() == pytest.approx(softplus(-0.3))


def test_only_the_last_feature_of_each_scale_is_the_logit():
    with_features = _outputs([0.5], features=[100.0, -100.0])
    assert losses.generator_loss(with_features).item() == pytest.approx(-0.5)


def test_unknown_gan_mode_is_one_clear_line():
    with pytest.raises(ValueError, match="gan_mode='wgan': choose one of hinge, ls, original"):
        losses.generator_loss(_outputs([0.0]), gan_mode="wgan")


def test_feature_matching_by_hand():
    fake = [[torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0]), torch.tensor([9.0])],
            [torch.tensor([4.0]), torch.tensor([5.0])]]
    real = [[torch.tensor([0.0, 0.0]), torch.tensor([3.0, 1.0]), torch.tensor([-9.0])],
            [torch.tensor([1.0]), torch.tensor([-5.0])]]
    # scale 1: L1 layer 1 = (1 + 2) / 2 = 1.5, layer 2 = (3 + 1) / 2 = 2 -> 3.5 (logits ignored)
    # scale 2: layer 1 = 3 -> 3; mean over scales = 3.25
    assert losses.feature_matching_loss(fake, real).item() == pytest.approx(3.25)


def test_feature_matching_does_not_push_the_real_features():
    real = [[torch.tensor([1.0], requires_grad=True), torch.tensor([0.0])]]
    fake = [[torch.tensor([0.0], requires_grad=True), torch.tensor([0.0])]]
    losses.feature_matching_loss(fake, real).backward()
    assert real[0][0].grad is None
    assert fake[0][0].grad.item() == pytest.approx(-1.0)


def test_kl_divergence_by_hand():
    assert losses.kl_divergence(torch.zeros(2, 4), torch.zeros(2, 4)).item() == 0.0
    # element mu = 1, logvar = 0: -1/2 (1 + 0 - 1 - 1) = 0.5; element mu = 0, logvar = log 2: -1/2 (1 + log 2 - 2)
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(2.0)]])
    expected = 0.5 + -0.5 * (1 + math.log(2.0) - 2.0)
    assert losses.kl_divergence(mu, logvar).item() == pytest.approx(expected)


@pytest.mark.slow
def test_vgg_loss_matches_torchvision_relu_layers():
    torch.manual_seed(0)
    features = vgg19(weights=None).features.eval()
    loss = losses.VGGLoss(features)
    fake, real = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x, y = ((fake + 1) / 2 - mean) / std, ((real + 1) / 2 - mean) / std
    relu_index = {1: 1 / 32, 6: 1 / 16, 11: 1 / 8, 20: 1 / 4, 29: 1.0}  # relu1_1 .. relu5_1 in torchvision's vgg19
    expected = 0.0
    with torch.no_grad():
        for index, layer in enumerate(features[:30]):
            x, y = layer(x), layer(y)
            if index in relu_index:
                expected += relu_index[index] * F.l1_loss(x, y).item()
        assert loss(fake, real).item() == pytest.approx(expected, rel=1e-5)
    assert not any(p.requires_grad for p in loss.parameters())


@pytest.mark.slow
def test_vgg_trunk_takes_the_feature_weights_of_a_torchvision_state_dict():
    full = vgg19(weights=None).state_dict()
    trunk = losses._vgg19_trunk(full)
    assert len(trunk) == 30 and torch.equal(trunk[28].weight, full["features.28.weight"])


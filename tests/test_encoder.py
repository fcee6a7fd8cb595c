"""Tests for spade_lesson.models.encoder: the image encoder's shapes, its 256 x 256 resize, and reparameterize."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from spade_lesson.models.encoder import ConvEncoder, reparameterize


@pytest.mark.slow
def test_mu_logvar_shapes_for_any_input_size() -> None:
    encoder = ConvEncoder(ngf=4, z_dim=16)
    for size in (64, 256):
        mu, logvar = encoder(torch.randn(2, 3, size, size))
        assert mu.shape == logvar.shape == (2, 16)
    assert encoder.fc_mu.in_features == 8 * 4 * 4 * 4


def test_official_layer_names() -> None:
    keys = set(ConvEncoder(ngf=2, z_dim=8).state_dict())
    expected = {f"layer{i}.0.weight_{part}" for i in range(1, 7) for part in ("orig", "u", "v")}
    expected |= {"fc_mu.weight", "fc_mu.bias", "fc_var.weight", "fc_var.bias"}
    assert keys == expected


@pytest.mark.slow
def test_images_are_resized_to_256_bilinearly_first() -> None:
    torch.manual_seed(0)
    encoder = ConvEncoder(ngf=2, z_dim=8).eval()
    image = torch.rand(1, 3, 128, 96) * 2 - 1
    resized = F.interpolate(image, size=(256, 256), mode="bilinear", align_corners=False)
    mu_small, logvar_small = encoder(image)
    mu_big, logvar_big = encoder(resized)
    assert torch.allclose(mu_small, mu_big, atol=1e-6) and torch.allclose(logvar_small, logvar_big, atol=1e-6)


def test_bad_image_is_clear() -> None:
    with pytest.raises(ValueError, match=r"expected \(N, 3, H, W\)"):
        ConvEncoder(ngf=2)(torch.randn(1, 1, 64, 64))


def test_reparameterize_has_the_requested_mean_and_std() -> None:
    torch.manual_seed(0)
    mu = torch.full((100_000, 2), 1.5)
    logvar = torch.full((100_000, 2), math.log(4.0))
    z = reparameterize(mu, logvar)
    assert abs(z.mean().item() - 1.5) < 0.02
    assert abs(z.std().item() - 2.0) < 0.02


def test_reparameterize_is_differentiable() -> None:
    mu = torch.zeros(4, 3, requires_grad=True)
    logvar = torch.zeros(4, 3, requires_grad=True)
    reparameterize(mu, logvar).sum().backward()
    assert torch.equal(mu.grad, torch.ones(4, 3))
    assert logvar.grad.abs().sum() > 0

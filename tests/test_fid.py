"""spade_lesson.evaluation.fid: the Frechet distance against closed forms, the statistics, and the offline fallback."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from spade_lesson.evaluation import fid as fid_module
from spade_lesson.evaluation.fid import (
    FID_LABELS,
    INCEPTION_SIZE,
    InceptionFeatures,
    fid,
    frechet_distance,
    gaussian_stats,
    inception_features,
    load_inception,
    sqrtm_psd,
)
from spade_lesson.runtime import pretrained
from spade_lesson.runtime.pretrained import INCEPTION_STANDARD, INCEPTION_TORCHVISION


def random_rotation(dim: int, seed: int) -> torch.Tensor:
    """A random orthogonal matrix (dim, dim) in float64."""
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q


def test_sqrtm_psd_squares_back() -> None:
    a = torch.randn(6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    spd = a @ a.T + 0.1 * torch.eye(6, dtype=torch.float64)
    root = sqrtm_psd(spd)
    assert torch.allclose(root @ root, spd, atol=1e-10)
    assert torch.allclose(root, root.T)


def test_commuting_covariances_match_the_closed_form() -> None:
    # S1 = R diag(a) R^T, S2 = R diag(b) R^T: d^2 = |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2
    rotation = random_rotation(5, seed=1)
    a = torch.tensor([1.0, 2.0, 0.5, 4.0, 3.0], dtype=torch.float64)
    b = torch.tensor([2.0, 0.3, 0.5, 1.0, 9.0], dtype=torch.float64)
    mu1 = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    mu2 = torch.tensor([1.0, 1.0, 0.0, 3.0, 2.0], dtype=torch.float64)
    sigma1, sigma2 = rotation @ torch.diag(a) @ rotation.T, rotation @ torch.diag(b) @ rotation.T
    expected = (mu1 - mu2).square().sum() + (a.sqrt() - b.sqrt()).square().sum()
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(float(expected), rel=1e-9)


def test_non_commuting_2d_covariances_match_the_closed_form() -> None:
    # for 2x2 S1 S2 with eigenvalues l1, l2 >= 0:
    # tr((S1 S2)^1/2) = sqrt(l1) + sqrt(l2) = sqrt(tr(S1 S2) + 2 sqrt(det(S1 S2)))
    sigma1 = torch.tensor([[2.0, 0.7], [0.7, 1.0]], dtype=torch.float64)
    sigma2 = torch.tensor([[1.0, -0.4], [-0.4, 3.0]], dtype=torch.float64)
    mu1, mu2 = torch.tensor([0.5, -1.0]), torch.tensor([2.0, 1.0])
    product = sigma1 @ sigma2
    cross = math.sqrt(float(product.trace()) + 2 * math.sqrt(float(torch.det(product))))
    expected = float((mu1 - mu2).square().sum()) + float(sigma1.trace() + sigma2.trace()) - 2 * cross
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu2, sigma2, mu1, sigma1) == pytest.approx(expected, rel=1e-9)


def test_a_gaussian_is_at_distance_zero_from_itself() -> None:
    a = torch.randn(4, 4, generator=torch.Generator().manual_seed(2))
    sigma = a @ a.T
    assert frechet_distance(torch.ones(4), sigma, torch.ones(4), sigma) == pytest.approx(0.0, abs=1e-9)


def test_gaussian_stats_match_numpy() -> None:
    features = torch.randn(50, 3, generator=torch.Generator().manual_seed(3))
    mu, sigma = gaussian_stats(features)
    assert np.allclose(mu.numpy(), features.numpy().mean(axis=0))
    assert np.allclose(sigma.numpy(), np.cov(features.numpy(), rowvar=False))


def test_bad_shapes_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="N >= 2"):
        gaussian_stats(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="means \\(D,\\) and covariances \\(D, D\\)"):
        frechet_distance(torch.zeros(3), torch.eye(3), torch.zeros(2), torch.eye(2))


class PoolFeatures(nn.Module):
    """A stand-in for Inception: remembers its input size, returns each image's mean colour as 3 features."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(x.shape))
        return self.scale * x.mean(dim=(2, 3))


def test_features_are_taken_at_inception_resolution_in_batches() -> None:
    model = PoolFeatures()
    images = torch.rand(5, 3, 32, 32) * 2 - 1
    features = inception_features(model, images, batch_size=2)
    assert features.shape == (5, 3)
    assert model.seen == [(2, 3, INCEPTION_SIZE, INCEPTION_SIZE)] * 2 + [(1, 3, INCEPTION_SIZE, INCEPTION_SIZE)]


def test_fid_is_zero_for_the_same_images_and_grows_with_a_colour_shift() -> None:
    model = PoolFeatures()
    images = torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(4)) * 2 - 1
    assert fid(model, images, images) == pytest.approx(0.0, abs=1e-6)
    shifted = fid(model, images, images + 0.5)
    assert shifted == pytest.approx(3 * 0.5**2, rel=1e-3)  # covariances equal: only |mu1 - mu2|^2 is left


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Stand-in for the weight loader: records (file label, what happens without it); torchvision's file is "there"."""
    calls = []

    def fake_load(weights, build, without: str):
        calls.append((weights.label, without))
        return InceptionFeatures(nn.Identity(), "torchvision") if weights is INCEPTION_TORCHVISION else None

    monkeypatch.setattr(fid_module, "load_pretrained", fake_load)
    return calls


def test_auto_takes_the_standard_weights_when_pytorch_fid_is_installed(monkeypatch, asked) -> None:
    monkeypatch.setattr(fid_module, "standard_fid_available", lambda: True)
    assert load_inception().label == FID_LABELS["torchvision"]  # the standard file is missing here: one fallback
    assert asked == [(INCEPTION_STANDARD.label, "falling back to the FID (torchvision Inception, not comparable with "
                                                "published FIDs)"), (INCEPTION_TORCHVISION.label, "FID skipped")]


def test_auto_without_pytorch_fid_uses_torchvision_and_says_so_in_its_label(monkeypatch, asked) -> None:
    monkeypatch.setattr(fid_module, "standard_fid_available", lambda: False)
    model = load_inception()
    assert model.kind == "torchvision" and asked == [(INCEPTION_TORCHVISION.label, "FID skipped")]
    assert model.label == "FID (torchvision Inception, not comparable with published FIDs)"


def test_standard_asked_for_is_never_replaced_by_torchvision(monkeypatch, asked, capsys) -> None:
    monkeypatch.setattr(fid_module, "standard_fid_available", lambda: True)
    assert load_inception("standard") is None and asked == [(INCEPTION_STANDARD.label, "FID skipped")]
    monkeypatch.setattr(fid_module, "standard_fid_available", lambda: False)
    assert load_inception("standard") is None and len(asked) == 1
    err = capsys.readouterr().err
    assert err == 'the standard FID needs pytorch-fid: pip install "spade-lesson[fid]"; FID skipped\n'
    assert load_inception("torchvision").kind == "torchvision"
    with pytest.raises(ValueError, match="kind='tf' is not known: use auto, standard, torchvision"):
        load_inception("tf")


def test_every_kind_has_a_label_naming_its_weights() -> None:
    assert InceptionFeatures(nn.Identity(), "standard").label == "FID (standard pt_inception weights)"
    assert "not comparable with published FIDs" in InceptionFeatures(nn.Identity(), "torchvision").label
    with pytest.raises(ValueError, match="kind='tf'"):
        InceptionFeatures(nn.Identity(), "tf")


def test_offline_is_one_line_and_none(tmp_path, monkeypatch, capsys) -> None:
    def offline(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        raise OSError("Name or service not known")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    monkeypatch.setattr(fid_module, "standard_fid_available", lambda: False)
    pretrained._read.cache_clear()
    try:
        assert load_inception() is None
    finally:
        pretrained._read.cache_clear()
    assert capsys.readouterr().err == (f"Inception-v3 (torchvision) weights are not at {INCEPTION_TORCHVISION.path}"
                                       " and could not be downloaded (OSError: Name or service not known),"
                                       " FID skipped\n")


@pytest.mark.slow
def test_torchvision_weights_give_2048_pool_features() -> None:
    from torchvision.models import inception_v3

    state = inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict()  # the published layout
    model = fid_module._torchvision_trunk(state).eval()
    assert model.kind == "torchvision" and inception_features(model, torch.zeros(2, 3, 64, 64)).shape == (2, 2048)


def test_standard_weights_give_2048_pool_features_without_unpickling_anything(monkeypatch) -> None:
    inception = pytest.importorskip("pytorch_fid.inception")
    from torchvision.models import inception_v3

    assert INCEPTION_STANDARD.url == inception.FID_WEIGHTS_URL
    # the FID Inception's blocks keep torchvision's parameter names: its file has the layout of a 1008-class
    # torchvision Inception without the auxiliary head
    state = inception_v3(weights=None, num_classes=1008, aux_logits=False, init_weights=False).state_dict()
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: pytest.fail("pytorch-fid must not read a file"))
    model = fid_module._standard_trunk(state).eval()
    assert model.kind == "standard"
    assert torch.equal(model.trunk.blocks[0][0].conv.weight, state["Conv2d_1a_3x3.conv.weight"])
    assert inception_features(model, torch.zeros(2, 3, 64, 64)).shape == (2, 2048)

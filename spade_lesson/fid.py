"""Frechet Inception Distance (Heusel et al., 2017), the paper's image-quality score (Park et al., CVPR 2019, Sec. 4).

Fit a Gaussian to Inception-v3 pool features of real images and one to those of generated images; FID is the
Frechet (2-Wasserstein) distance between the two Gaussians. torchvision's ImageNet Inception-v3 weights are used when
they can be had (from the torch hub cache, or downloaded); offline, `load_inception()` says so in one line and returns
None. torchvision's weights are not the TensorFlow ones behind published FIDs: our numbers rank models, they are not
comparable to the paper's.
"""

from __future__ import annotations

import contextlib
import functools
import io
import socket
import sys

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.losses import DOWNLOAD_TIMEOUT_S

INCEPTION_SIZE = 299  # Inception-v3's input resolution


def sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix (D, D), by eigendecomposition."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T  # V diag(sqrt(lambda)) V^T


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2): means (D,), covariances (D, D); in float64."""
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"frechet_distance: means {tuple(mu1.shape)}, {tuple(mu2.shape)} and covariances "
                         f"{tuple(sigma1.shape)}, {tuple(sigma2.shape)}; pass means (D,) and covariances (D, D)")
    mu1, sigma1, mu2, sigma2 = (t.double() for t in (mu1, sigma1, mu2, sigma2))
    root1 = sqrtm_psd(sigma1)
    # tr((S1 S2)^1/2) = tr((S1^1/2 S2 S1^1/2)^1/2): the same eigenvalues, and the second matrix is symmetric PSD
    cross = torch.linalg.eigvalsh(root1 @ sigma2 @ root1).clamp(min=0).sqrt().sum()
    # d^2 = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2)
    distance = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * cross
    return float(distance.clamp(min=0))


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """features: (N, D), N >= 2 -> (mean (D,), unbiased covariance (D, D)) in float64."""
    if features.dim() != 2 or len(features) < 2:
        raise ValueError(f"gaussian_stats: features have shape {tuple(features.shape)}; pass (N, D) with N >= 2")
    features = features.double()
    return features.mean(dim=0), torch.cov(features.T)


@functools.lru_cache(maxsize=1)
def _inception_weights() -> tuple[dict[str, torch.Tensor] | None, str]:
    """torchvision's IMAGENET1K_V1 Inception-v3 weights (cache, else download), or None and the reason."""
    from torchvision.models import Inception_V3_Weights

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # offline fails in seconds, not minutes
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return Inception_V3_Weights.IMAGENET1K_V1.get_state_dict(progress=False), ""
    except Exception as error:  # no internet, proxy refusal, corrupt cache: all mean "no FID"
        return None, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no detail'}"
    finally:
        socket.setdefaulttimeout(previous)


def load_inception() -> nn.Module | None:
    """Inception-v3 up to its 2048-d average pool, frozen; None (after one printed line) without its weights."""
    from torchvision.models import inception_v3

    state, reason = _inception_weights()
    if state is None:
        print(f"Inception-v3 weights unavailable ({reason}); FID skipped", file=sys.stderr)
        return None
    # these weights expect inputs in [-1, 1], as our images are (torchvision's transform_input maps ImageNet-normalized
    # inputs there; we skip that step)
    model = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=False)
    model.load_state_dict(state)
    model.fc = nn.Identity()  # the pool features, not the ImageNet logits
    return model.eval().requires_grad_(False)


@torch.no_grad()
def inception_features(model: nn.Module, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """images: (N, 3, H, W) in [-1, 1] -> pool features (N, 2048), bilinearly resized to 299 x 299."""
    device = next(model.parameters()).device
    chunks = []
    for batch in images.split(batch_size):
        x = F.interpolate(batch.to(device).float(), size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear",
                          align_corners=False)
        chunks.append(model(x).float().cpu())
    return torch.cat(chunks)


def fid(model: nn.Module, real: torch.Tensor, fake: torch.Tensor, batch_size: int = 32) -> float:
    """FID between real and fake images (N, 3, H, W) in [-1, 1] with the given Inception (from load_inception)."""
    return frechet_distance(*gaussian_stats(inception_features(model, real, batch_size)),
                            *gaussian_stats(inception_features(model, fake, batch_size)))

"""Frechet Inception Distance (Heusel et al., 2017), the paper's image-quality score (Park et al., CVPR 2019, Sec. 4).

Fit a Gaussian to Inception-v3 pool features of real images and one to those of generated images; FID is the
Frechet (2-Wasserstein) distance between the two Gaussians. Two kinds of features, named in every FID output
(`InceptionFeatures.label`, `FID_LABELS`): with the optional extra (pip install "spade-lesson[fid]", pytorch-fid) the
standard pt_inception weights, the TensorFlow Inception behind published FIDs (the paper's included); without it,
torchvision's ImageNet Inception-v3, whose numbers rank models but are not comparable with published FIDs. Weights
come from the torch hub cache or a download, checked by spade_lesson.runtime.pretrained; offline, `load_inception()`
says so in one line and returns None.
"""

from __future__ import annotations

import importlib.util
import sys
from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.runtime.pretrained import INCEPTION_STANDARD, INCEPTION_TORCHVISION, load_pretrained

INCEPTION_SIZE = 299  # Inception-v3's input resolution
FID_LABELS = {  # every FID printed names the features it was computed with
    "standard": "FID (standard pt_inception weights)",
    "torchvision": "FID (torchvision Inception, not comparable with published FIDs)",
}


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


class InceptionFeatures(nn.Module):
    """An Inception-v3 trunk: images (N, 3, 299, 299) in [-1, 1] -> 2048-d pool features (N, 2048); `kind` names its
    weights ("standard" or "torchvision") and `label` says so in every FID output."""

    def __init__(self, trunk: nn.Module, kind: str) -> None:
        super().__init__()
        if kind not in FID_LABELS:
            raise ValueError(f"kind={kind!r} is not known: use one of {', '.join(FID_LABELS)}")
        self.trunk = trunk
        self.kind = kind

    @property
    def label(self) -> str:
        """The name to print beside an FID computed with these features, e.g. 'FID (standard pt_inception weights)'."""
        return FID_LABELS[self.kind]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 3, 299, 299) in [-1, 1] -> (N, 2048)."""
        features = self.trunk(x)
        if isinstance(features, list):  # pytorch-fid returns the list of the blocks asked for
            features = features[-1]
        return features.flatten(1)


def _torchvision_trunk(state: dict[str, torch.Tensor]) -> InceptionFeatures:
    """torchvision's Inception-v3 with these weights, its classifier removed."""
    from torchvision.models import inception_v3

    # these weights expect inputs in [-1, 1], as our images are (torchvision's transform_input maps ImageNet-normalized
    # inputs there; we skip that step)
    model = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=False)
    model.load_state_dict(state)
    model.fc = nn.Identity()  # the pool features, not the ImageNet logits
    return InceptionFeatures(model, "torchvision")


def _standard_trunk(state: dict[str, torch.Tensor]) -> InceptionFeatures:
    """pytorch-fid's FID Inception (the TensorFlow graph behind published FIDs) with these weights, up to its pool."""
    from pytorch_fid import inception as pytorch_fid_inception

    # pytorch-fid fetches and unpickles its weights itself, without weights_only: hand it the checked ones instead
    with mock.patch.object(pytorch_fid_inception, "load_state_dict_from_url", lambda *args, **kwargs: state):
        model = pytorch_fid_inception.InceptionV3([pytorch_fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]],
                                                  resize_input=False, normalize_input=False)  # we resize, in [-1, 1]
    return InceptionFeatures(model, "standard")


def standard_fid_available() -> bool:
    """Whether the optional pytorch-fid package (pip install "spade-lesson[fid]") is installed."""
    return importlib.util.find_spec("pytorch_fid") is not None


def load_inception(kind: str = "auto") -> InceptionFeatures | None:
    """Inception-v3 up to its 2048-d pool, frozen: kind "standard" (pytorch-fid's weights, comparable with published
    FIDs), "torchvision", or "auto" (standard when pytorch-fid is installed and its weights can be had, else
    torchvision); None after one printed line when no weights can be had."""
    if kind not in ("auto", *FID_LABELS):
        raise ValueError(f"kind={kind!r} is not known: use auto, {', '.join(FID_LABELS)}")
    if kind == "standard" and not standard_fid_available():
        print('the standard FID needs pytorch-fid: pip install "spade-lesson[fid]"; FID skipped', file=sys.stderr)
        return None
    if kind == "standard" or (kind == "auto" and standard_fid_available()):
        without = "FID skipped" if kind == "standard" else f"falling back to the {FID_LABELS['torchvision']}"
        model = load_pretrained(INCEPTION_STANDARD, _standard_trunk, without=without)
        if model is not None or kind == "standard":
            return model
    return load_pretrained(INCEPTION_TORCHVISION, _torchvision_trunk, without="FID skipped")


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

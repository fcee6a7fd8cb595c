"""SPADE's training losses: adversarial (hinge / least squares / original), feature matching, VGG perceptual, KL.

Every function returns the *unweighted* term; the trainer multiplies by the paper's lambdas
(feature matching 10, VGG 10, KL 0.05). Discriminator outputs are the multiscale format of
`spade_lesson.models.discriminator.MultiscaleDiscriminator`: a list (one entry per scale) of lists of
features whose last element is the patch logits.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from spade_lesson.runtime.pretrained import VGG19, load_pretrained

GAN_MODES = ("hinge", "ls", "original")
VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)  # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
VGG_SLICE_ENDS = (2, 7, 12, 21, 30)  # torchvision vgg19().features indices just after each of those ReLUs
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _check_mode(gan_mode: str) -> None:
    """Raise a one-line error for an unknown GAN loss name."""
    if gan_mode not in GAN_MODES:
        raise ValueError(f"gan_mode={gan_mode!r}: choose one of {', '.join(GAN_MODES)}")


def _logits(outputs: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """The last feature (the patch logits) of every scale, in float32."""
    return [scale[-1].float() for scale in outputs]


def _d_term(logits: torch.Tensor, real: bool, gan_mode: str) -> torch.Tensor:
    """One scale's discriminator loss on logits that should be classified real (True) or fake (False)."""
    if gan_mode == "hinge":
        return F.relu(1 - logits).mean() if real else F.relu(1 + logits).mean()  # E[max(0, 1 -+ D)]
    if gan_mode == "ls":
        return ((logits - float(real)) ** 2).mean()  # E[(D - c)^2], c = 1 real, 0 fake
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))  # -E[log D] or -E[log(1-D)]


def _g_term(logits: torch.Tensor, gan_mode: str) -> torch.Tensor:
    """One scale's generator loss on the logits of its fakes."""
    if gan_mode == "hinge":
        return -logits.mean()  # L_G = -E[D(G(m))]
    if gan_mode == "ls":
        return ((logits - 1) ** 2).mean()  # E[(D(G(m)) - 1)^2]
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))  # non-saturating: -E[log D(G(m))]


def discriminator_loss(fake_outputs: list[list[torch.Tensor]], real_outputs: list[list[torch.Tensor]],
                       gan_mode: str = "hinge") -> tuple[torch.Tensor, torch.Tensor]:
    """(fake term, real term) of the discriminator's loss, each averaged over scales."""
    _check_mode(gan_mode)
    fake = torch.stack([_d_term(logits, False, gan_mode) for logits in _logits(fake_outputs)]).mean()
    real = torch.stack([_d_term(logits, True, gan_mode) for logits in _logits(real_outputs)]).mean()
    return fake, real


def generator_loss(fake_outputs: list[list[torch.Tensor]], gan_mode: str = "hinge") -> torch.Tensor:
    """The generator's adversarial loss on the discriminator's outputs for its fakes, averaged over scales."""
    _check_mode(gan_mode)
    return torch.stack([_g_term(logits, gan_mode) for logits in _logits(fake_outputs)]).mean()


def feature_matching_loss(fake_outputs: list[list[torch.Tensor]],
                          real_outputs: list[list[torch.Tensor]]) -> torch.Tensor:
    """L1 of fake vs (detached) real discriminator features: summed over layers but the last, averaged over scales."""
    per_scale = []
    for fake_scale, real_scale in zip(fake_outputs, real_outputs, strict=True):
        layers = [F.l1_loss(fake.float(), real.detach().float())
                  for fake, real in zip(fake_scale[:-1], real_scale[:-1], strict=True)]
        per_scale.append(torch.stack(layers).sum())  # sum_j ||D_j(x) - D_j(G(m))||_1
    return torch.stack(per_scale).mean()  # averaged over the num_D scales


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over batch and latent dims, as the official code does. mu: (N, Z)."""
    mu, logvar = mu.float(), logvar.float()
    return -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp())  # -1/2 sum(1 + log sigma^2 - mu^2 - sigma^2)


def _vgg19_trunk(state: dict[str, torch.Tensor]) -> nn.Sequential:
    """VGG19's `features` up to relu5_1 with the convolution weights of a torchvision VGG19 state dict."""
    from torchvision.models import vgg19

    end = VGG_SLICE_ENDS[-1]
    features = vgg19(weights=None).features[:end]
    features.load_state_dict({key.removeprefix("features."): value for key, value in state.items()
                              if key.startswith("features.") and int(key.split(".")[1]) < end})
    return features


def load_vgg19_features() -> nn.Sequential | None:
    """VGG19's convolutional trunk with ImageNet weights, frozen; None (after one printed line) when unavailable."""
    return load_pretrained(VGG19, _vgg19_trunk, without="training continues without the VGG loss")


class VGGLoss(nn.Module):
    """Perceptual loss: weighted L1 between VGG19 relu{1..5}_1 features of fake and real images in [-1, 1]."""

    def __init__(self, features: nn.Sequential) -> None:
        """features: VGG19's `features` trunk (at least up to relu5_1), e.g. from load_vgg19_features()."""
        super().__init__()
        starts = (0,) + VGG_SLICE_ENDS[:-1]
        self.slices = nn.ModuleList(features[start:end] for start, end in zip(starts, VGG_SLICE_ENDS))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def _normalize(self, image: torch.Tensor) -> torch.Tensor:
        """image: (N, 3, H, W) in [-1, 1] -> ImageNet-normalized input (the official code skips this step)."""
        return ((image + 1) / 2 - self.mean) / self.std

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """fake, real: (N, 3, H, W) in [-1, 1] -> scalar sum_i w_i * L1(phi_i(fake), phi_i(real))."""
        x, y = self._normalize(fake), self._normalize(real.detach())
        loss = fake.new_zeros((), dtype=torch.float32)
        for weight, block in zip(VGG_LAYER_WEIGHTS, self.slices):
            x, y = block(x), block(y)
            loss = loss + weight * F.l1_loss(x.float(), y.detach().float())  # sum_i w_i ||phi_i(x) - phi_i(G(m))||_1
        return loss

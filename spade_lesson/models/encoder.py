"""The image encoder for multi-modal synthesis (Park et al., CVPR 2019, Sec. 3.3 and Appendix): image -> (mu, logvar).

`ConvEncoder(ngf=64, z_dim=256, spectral=True, norm="instance")`:
- ngf: base width (the official encoder reads opt.ngf): six 3x3 stride-2 convs of ngf, 2, 4, 8, 8, 8 times ngf,
  each followed by a norm ("spectralinstance" in the official norm_E is spectral=True, norm="instance");
- z_dim: size of the style code (256 in the official code, where fc_mu / fc_var have 256 outputs).
forward(image): image (N, 3, H, W) in [-1, 1], resized to 256 x 256 first as the official does -> mu, logvar (N, z_dim).
The official builds the sixth conv only when crop_size >= 256 (smaller crops then fail at fc_mu), so here it is always
there. `reparameterize(mu, logvar)` draws z = mu + sigma * eps, sigma = exp(logvar / 2), eps ~ N(0, I).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.layers.blocks import conv_norm

ENCODER_INPUT_SIZE = 256
START_SIZE = 4  # 256 / 2**6: the spatial size the six stride-2 convs leave


class ConvEncoder(nn.Module):
    """Six stride-2 conv-norm-LeakyReLU steps from a 256 x 256 image to a 4 x 4 map, then Linear heads mu, logvar."""

    def __init__(self, ngf: int = 64, z_dim: int = 256, spectral: bool = True, norm: str = "instance") -> None:
        super().__init__()
        widths = [3, ngf, 2 * ngf, 4 * ngf, 8 * ngf, 8 * ngf, 8 * ngf]
        for i in range(6):
            conv = nn.Conv2d(widths[i], widths[i + 1], kernel_size=3, stride=2, padding=1)
            self.add_module(f"layer{i + 1}", conv_norm(conv, spectral=spectral, norm=norm))
        self.fc_mu = nn.Linear(8 * ngf * START_SIZE * START_SIZE, z_dim)
        self.fc_var = nn.Linear(8 * ngf * START_SIZE * START_SIZE, z_dim)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """image: (N, 3, H, W) -> (mu, logvar), each (N, z_dim)."""
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"image has shape {tuple(image.shape)}: expected (N, 3, H, W) RGB in [-1, 1]")
        x = image
        if x.shape[2:] != (ENCODER_INPUT_SIZE, ENCODER_INPUT_SIZE):
            x = F.interpolate(x, size=(ENCODER_INPUT_SIZE, ENCODER_INPUT_SIZE), mode="bilinear", align_corners=False)
        for i in range(1, 7):
            x = F.leaky_relu(getattr(self, f"layer{i}")(x), 0.2)
        x = x.flatten(1)
        return self.fc_mu(x), self.fc_var(x)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """mu, logvar: (N, z_dim) -> z (N, z_dim) ~ N(mu, exp(logvar)), differentiable in mu and logvar."""
    std = torch.exp(0.5 * logvar)  # sigma = exp(log sigma^2 / 2)
    return mu + std * torch.randn_like(std)  # z = mu + sigma * eps, eps ~ N(0, I)

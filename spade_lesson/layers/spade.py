"""SPADE, the paper's spatially-adaptive normalization (Park et al., CVPR 2019, Sec. 3.1).

`SPADE(norm_nc, label_nc, hidden=128, kernel_size=3, param_free_norm="batch")`:
- norm_nc: channels of the activation x that is normalized (and of gamma, beta);
- label_nc: channels of the one-hot semantic map (the official `semantic_nc`);
- hidden: width of the shared embedding (128, hard-coded in the official code);
- kernel_size: size of the three convs (the "3x3" / "5x5" of the official norm_G strings);
- param_free_norm: "batch", "instance" or "syncbatch" (the official "spade<norm><k>x<k>").
forward(x, segmap): x (N, norm_nc, H, W), segmap m (N, label_nc, h, w) one-hot -> (N, norm_nc, H, W).
Submodule names follow NVlabs/SPADE (param_free_norm, mlp_shared, mlp_gamma, mlp_beta) so official weights load by name.
The class is the paper's, on the dense one-hot map. Training hands it the same map as class ids instead
(spade_lesson.layers.onehot.SegMap), which answers F.interpolate and the first conv itself, as lookups: same result.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.layers.blocks import norm_layer

PARAM_FREE_NORMS = ("batch", "instance", "syncbatch")  # the official "spade<norm><k>x<k>" choices


class SPADE(nn.Module):
    """Normalize x without affine parameters, then modulate it per pixel with gamma, beta predicted from the segmap."""

    def __init__(self, norm_nc: int, label_nc: int, hidden: int = 128, kernel_size: int = 3,
                 param_free_norm: str = "batch") -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size={kernel_size} must be odd so the maps keep their size (e.g. 3 or 5)")
        padding = kernel_size // 2
        self.param_free_norm = norm_layer(param_free_norm, norm_nc, affine=False, choices=PARAM_FREE_NORMS,
                                          argument="param_free_norm")
        self.mlp_shared = nn.Sequential(
            nn.Conv2d(label_nc, hidden, kernel_size=kernel_size, padding=padding),
            nn.ReLU(),
        )
        self.mlp_gamma = nn.Conv2d(hidden, norm_nc, kernel_size=kernel_size, padding=padding)
        self.mlp_beta = nn.Conv2d(hidden, norm_nc, kernel_size=kernel_size, padding=padding)

    def forward(self, x: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        """x: (N, norm_nc, H, W), segmap: (N, label_nc, h, w) one-hot -> (N, norm_nc, H, W)."""
        normalized = self.param_free_norm(x)  # (h - mu_c) / sigma_c, Eq. (1) without its affine part
        segmap = F.interpolate(segmap, size=x.shape[2:], mode="nearest")  # m at x's resolution, as the official code
        embedding = self.mlp_shared(segmap)
        gamma = self.mlp_gamma(embedding)  # gamma_{c,y,x}(m)
        beta = self.mlp_beta(embedding)  # beta_{c,y,x}(m)
        return normalized * (1 + gamma) + beta  # Eq. (1): gamma(m) * (h - mu) / sigma + beta(m), gamma centred on 1

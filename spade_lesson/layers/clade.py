"""CLADE, class-adaptive normalization (Tan et al., "Efficient Semantic Image Synthesis via Class-Adaptive
Normalization", TPAMI 2021): SPADE's modulation with gamma and beta looked up per class instead of convolved.

On a map of one class SPADE's gamma and beta are one vector each (away from the border): SPADE there is a BatchNorm
whose affine parameters depend on the class. CLADE keeps exactly that and drops the convolutions: a learned table
holds one (gamma, beta) pair per class, and each pixel reads the row of its class.

`CLADE(norm_nc, label_nc, param_free_norm="batch")`: forward(x, segmap): x (N, norm_nc, H, W), segmap (N, label_nc,
h, w) one-hot -> (N, norm_nc, H, W). A pixel with no class (an all-zero vector, the don't-care label) is left
unmodulated (gamma = beta = 0). The tables start as Tan et al.'s code starts them: each class's scale 1 + gamma
uniform in [0, 1], its shift 0. (Started at zero, the tables hardly move in a short run: Adam changes each entry
by about the learning rate per step, 1e-4 in the course's trainer.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.layers.blocks import norm_layer
from spade_lesson.layers.onehot import SegMap, resized
from spade_lesson.layers.spade import PARAM_FREE_NORMS


class CLADE(nn.Module):
    """Normalize x without affine parameters, then scale and shift each pixel by its class's row of a learned table."""

    def __init__(self, norm_nc: int, label_nc: int, param_free_norm: str = "batch") -> None:
        super().__init__()
        self.param_free_norm = norm_layer(param_free_norm, norm_nc, affine=False, choices=PARAM_FREE_NORMS,
                                          argument="param_free_norm")
        # row c: gamma^c, with 1 + gamma^c uniform in [0, 1] at the start
        self.gamma = nn.Parameter(torch.empty(label_nc, norm_nc).uniform_(-1.0, 0.0))
        self.beta = nn.Parameter(torch.zeros(label_nc, norm_nc))  # row c: beta^c

    def modulation(self, segmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """segmap: (N, label_nc, H, W) one-hot -> gamma, beta: (N, norm_nc, H, W), each pixel its class's row."""
        index = segmap.argmax(dim=1)  # (N, H, W): the class of each pixel
        present = segmap.amax(dim=1, keepdim=True)  # 1 where the pixel has a class, 0 for don't care
        gamma = F.embedding(index, self.gamma).permute(0, 3, 1, 2) * present  # gamma_{c,y,x} = gamma^{m(y,x)}_c
        beta = F.embedding(index, self.beta).permute(0, 3, 1, 2) * present  # beta_{c,y,x} = beta^{m(y,x)}_c
        return gamma, beta

    def forward(self, x: torch.Tensor, segmap: torch.Tensor | SegMap) -> torch.Tensor:
        """x: (N, norm_nc, H, W), segmap: (N, label_nc, h, w) one-hot, or a SegMap -> (N, norm_nc, H, W)."""
        normalized = self.param_free_norm(x)  # (h - mu_c) / sigma_c
        segmap = resized(segmap, x.shape[2:])  # nearest, as SPADE
        gamma, beta = self.modulation(segmap.dense(x.dtype) if isinstance(segmap, SegMap) else segmap)
        return normalized * (1 + gamma) + beta  # SPADE's Eq. (1) with gamma, beta read from the class's table row

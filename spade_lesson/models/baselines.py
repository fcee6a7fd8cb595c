"""The paper's comparison point: the same decoder with ordinary normalization, the label map fed at the input only.

This is the pix2pixHD-style design SPADE argues against (Park et al., CVPR 2019, Sec. 3.1-3.2): the one-hot map enters
the first layer (the 3x3 conv `fc`, at full resolution), stride-2 convs carry it down to the decoder's start size (the
encoder half of pix2pixHD's generator, `down_0`, `down_1`, ...), and every later layer sees it only through activations
that BatchNorm / InstanceNorm keep re-normalizing ("washing away").

`BaselineResnetBlock(in_channels, out_channels, norm="batch", spectral=True)`: the SPADE ResBlk with each SPADE replaced
by an affine BatchNorm2d ("batch") or InstanceNorm2d ("instance"); forward(x).
`BaselineGenerator(semantic_nc, ngf=64, num_upsampling_layers="normal", crop_size=256, aspect_ratio=1.0, norm="batch",
spectral=True)`: forward(semantic) -> image (N, 3, H_out, W_out) in [-1, 1]; the arguments mean what they mean for
spade_lesson.models.generator.SPADEGenerator.
`matching_ngf(...)`: the baseline width whose parameter count is closest to a SPADE generator's, so that a comparison
is not won by sheer size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.layers.blocks import maybe_spectral, norm_layer
from spade_lesson.layers.counting import closest_width, count_parameters
from spade_lesson.layers.onehot import OneHotConv2d, SegMap
from spade_lesson.models.generator import UPSAMPLING_LAYERS, SPADEGenerator, decoder_plan, latent_size

AFFINE_NORMS = ("batch", "instance")  # ordinary norms with one learned scale and shift per channel


class BaselineResnetBlock(nn.Module):
    """The SPADE ResBlk with plain affine norms: norm-LeakyReLU-conv twice plus a shortcut, no label map inside."""

    def __init__(self, in_channels: int, out_channels: int, norm: str = "batch", spectral: bool = True) -> None:
        super().__init__()
        self.learned_shortcut = in_channels != out_channels
        middle = min(in_channels, out_channels)
        self.conv_0 = maybe_spectral(nn.Conv2d(in_channels, middle, kernel_size=3, padding=1), spectral)
        self.conv_1 = maybe_spectral(nn.Conv2d(middle, out_channels, kernel_size=3, padding=1), spectral)
        self.norm_0 = norm_layer(norm, in_channels, affine=True, choices=AFFINE_NORMS)
        self.norm_1 = norm_layer(norm, middle, affine=True, choices=AFFINE_NORMS)
        if self.learned_shortcut:
            self.conv_s = maybe_spectral(nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False), spectral)
            self.norm_s = norm_layer(norm, in_channels, affine=True, choices=AFFINE_NORMS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, in_channels, H, W) -> (N, out_channels, H, W)."""
        shortcut = self.conv_s(self.norm_s(x)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x), 0.2))  # gamma_c * (h - mu_c) / sigma_c + beta_c: no m here
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx), 0.2))
        return shortcut + dx


def encoder_widths(ngf: int, num_upsampling_layers: str) -> list[int]:
    """Channels of the downsampling path, full resolution first: ngf, doubling per halving, capped at 16 * ngf."""
    return [min(ngf * 2**level, 16 * ngf) for level in range(UPSAMPLING_LAYERS[num_upsampling_layers] + 1)]


class BaselineGenerator(nn.Module):
    """A stride-2 encoder and the SPADE decoder with BatchNorm / InstanceNorm in place of SPADE; labels at the input."""

    def __init__(self, semantic_nc: int, ngf: int = 64, num_upsampling_layers: str = "normal", crop_size: int = 256,
                 aspect_ratio: float = 1.0, norm: str = "batch", spectral: bool = True) -> None:
        super().__init__()
        self.semantic_nc = semantic_nc
        self.start_height, self.start_width = latent_size(crop_size, aspect_ratio, num_upsampling_layers)
        self.plan = decoder_plan(ngf, num_upsampling_layers)
        self.widths = encoder_widths(ngf, num_upsampling_layers)
        self.fc = OneHotConv2d(semantic_nc, self.widths[0], kernel_size=3, padding=1)  # an nn.Conv2d, also on ids
        for level, (in_channels, out_channels) in enumerate(zip(self.widths, self.widths[1:])):
            self.add_module(f"down_{level}", nn.Sequential(
                norm_layer(norm, in_channels, affine=True, choices=AFFINE_NORMS), nn.LeakyReLU(0.2),
                maybe_spectral(nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1), spectral)))
        for block in self.plan:
            self.add_module(block.name, BaselineResnetBlock(block.in_channels, block.out_channels, norm=norm,
                                                            spectral=spectral))
        self.conv_img = nn.Conv2d(self.plan[-1].out_channels, 3, kernel_size=3, padding=1)

    def forward(self, semantic: torch.Tensor | SegMap, z: None = None) -> torch.Tensor:
        """semantic: (N, semantic_nc, H, W) one-hot or a SegMap -> image (N, 3, H_out, W_out) in [-1, 1]."""
        if len(semantic.shape) != 4 or semantic.shape[1] != self.semantic_nc:
            raise ValueError(f"semantic has shape {tuple(semantic.shape)}: expected (N, {self.semantic_nc}, H, W), "
                             "the one-hot label map (spade_lesson.data.one_hot)")
        x = self.fc(semantic)  # the full-resolution map, the only place it enters
        for level in range(len(self.widths) - 1):
            x = getattr(self, f"down_{level}")(x)  # halve H and W, double the channels
        x = F.adaptive_avg_pool2d(x, (self.start_height, self.start_width))  # identity when the crop divides evenly
        for block in self.plan:
            if block.upsample:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = getattr(self, block.name)(x)
        return torch.tanh(self.conv_img(F.leaky_relu(x, 0.2)))


def matching_ngf(semantic_nc: int, ngf: int = 64, num_upsampling_layers: str = "normal", crop_size: int = 256,
                 aspect_ratio: float = 1.0, kernel_size: int = 3, spade_hidden: int = 128, norm: str = "batch") -> int:
    """The BaselineGenerator ngf whose parameter count is closest to that of the SPADEGenerator with these arguments."""
    shape = {"semantic_nc": semantic_nc, "num_upsampling_layers": num_upsampling_layers, "crop_size": crop_size,
             "aspect_ratio": aspect_ratio}
    with torch.device("meta"):  # count without allocating or initializing any weights
        target = count_parameters(SPADEGenerator(ngf=ngf, kernel_size=kernel_size, spade_hidden=spade_hidden,
                                                 spectral=False, **shape))
    return closest_width(lambda width: BaselineGenerator(ngf=width, norm=norm, spectral=False, **shape), target)

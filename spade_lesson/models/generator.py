"""The SPADE generator (Park et al., CVPR 2019, Sec. 3.2 and Fig. 4): a decoder of SPADE residual blocks.

`SPADEResnetBlock(in_channels, out_channels, semantic_nc, spectral=True, param_free_norm="batch", kernel_size=3,
spade_hidden=128)`: the paper's SPADE ResBlk; forward(x, segmap).

`SPADEGenerator(semantic_nc, ngf=64, num_upsampling_layers="normal", crop_size=256, aspect_ratio=1.0, use_vae=False,
z_dim=256, spectral=True, param_free_norm="batch", kernel_size=3, spade_hidden=128)`:
- semantic_nc: channels of the one-hot input (label_nc, +1 for a don't-care channel, +1 for instance edges);
- ngf: base width; the blocks run at 16, 16, 16, 16, 8, 4, 2, 1 (and 1/2 for "most") times ngf;
- num_upsampling_layers: "normal" (5 doublings), "more" (6) or "most" (7 and one more block, up_4);
- crop_size, aspect_ratio: output width and width / height; the decoder starts from a
  (crop_size / 2**ups / aspect_ratio, crop_size / 2**ups) map, as the official code does;
- use_vae, z_dim: start from z (N, z_dim) through a Linear `fc` (z ~ N(0, I) when not given) instead of a 3x3 conv
  `fc` on the label map downsampled to the start size;
- spectral, param_free_norm, kernel_size, spade_hidden: the official norm_G string "spectralspadesyncbatch3x3" is
  spectral=True, param_free_norm="syncbatch", kernel_size=3 (spade_hidden is 128 in the official code).
forward(semantic, z=None): semantic (N, semantic_nc, H, W) float one-hot -> image (N, 3, H_out, W_out) in [-1, 1].
The label map is resized once per resolution (nearest, from the full map, as every official SPADE layer does it) and
shared by the layers there. (Training may pass the map as class ids instead, spade_lesson.layers.onehot.SegMap: it
answers the same torch calls, the convs as lookups.)
Submodule names follow NVlabs/SPADE (fc, head_0, G_middle_0, G_middle_1, up_0..up_4, conv_img).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.layers.blocks import maybe_spectral
from spade_lesson.layers.spade import SPADE

UPSAMPLING_LAYERS = {"normal": 5, "more": 6, "most": 7}


class DecoderBlock(NamedTuple):
    """One residual block of the decoder: its official name, widths, and whether x is doubled in size before it."""

    name: str
    in_channels: int
    out_channels: int
    upsample: bool


def doublings(num_upsampling_layers: str) -> int:
    """How many times the decoder doubles its start map: normal 5, more 6, most 7."""
    if num_upsampling_layers not in UPSAMPLING_LAYERS:
        raise ValueError(f"num_upsampling_layers={num_upsampling_layers!r} is not known: "
                         f"use one of {', '.join(UPSAMPLING_LAYERS)}")
    return UPSAMPLING_LAYERS[num_upsampling_layers]


def _check_aspect_ratio(aspect_ratio: float) -> None:
    """Refuse an aspect ratio (width / height) that is not a positive finite number."""
    if not 0 < aspect_ratio < float("inf"):
        raise ValueError(f"aspect_ratio={aspect_ratio} must be a positive number (width / height, e.g. 1.0 or 2.0)")


def decoder_plan(ngf: int, num_upsampling_layers: str) -> list[DecoderBlock]:
    """The blocks of the SPADE decoder in order (shared with the baselines, which swap SPADE for a plain norm)."""
    doublings(num_upsampling_layers)  # a known name
    more = num_upsampling_layers in ("more", "most")
    plan = [
        DecoderBlock("head_0", 16 * ngf, 16 * ngf, upsample=False),
        DecoderBlock("G_middle_0", 16 * ngf, 16 * ngf, upsample=True),
        DecoderBlock("G_middle_1", 16 * ngf, 16 * ngf, upsample=more),
        DecoderBlock("up_0", 16 * ngf, 8 * ngf, upsample=True),
        DecoderBlock("up_1", 8 * ngf, 4 * ngf, upsample=True),
        DecoderBlock("up_2", 4 * ngf, 2 * ngf, upsample=True),
        DecoderBlock("up_3", 2 * ngf, ngf, upsample=True),
    ]
    if num_upsampling_layers == "most":
        plan.append(DecoderBlock("up_4", ngf, ngf // 2, upsample=True))
    return plan


def latent_size(crop_size: int, aspect_ratio: float, num_upsampling_layers: str) -> tuple[int, int]:
    """(height, width) of the map the decoder starts from: crop_size / 2**ups wide, width / aspect_ratio high."""
    factor = 2 ** doublings(num_upsampling_layers)
    _check_aspect_ratio(aspect_ratio)
    width = crop_size // factor
    height = round(width / aspect_ratio)
    if width < 1 or height < 1:
        raise ValueError(f"crop_size={crop_size} with aspect_ratio={aspect_ratio} is too small for "
                         f"num_upsampling_layers={num_upsampling_layers!r}: use crop_size >= {factor} "
                         f"(a multiple of {factor})")
    return height, width


def image_size(crop_size: int, aspect_ratio: float, num_upsampling_layers: str) -> tuple[int, int]:
    """(H, W) of the images a generator with these options makes exactly: crop_size wide, crop_size / aspect_ratio
    high, both multiples of 2**ups (the decoder doubles its start map ups times)."""
    ups = doublings(num_upsampling_layers)
    _check_aspect_ratio(aspect_ratio)
    factor, height = 2**ups, crop_size / aspect_ratio
    if crop_size < factor or height < factor or crop_size % factor or height % factor:
        raise ValueError(f"size={crop_size} with aspect_ratio={aspect_ratio} asks for {height:g} x {crop_size} images, "
                         f"but with num_upsampling_layers={num_upsampling_layers!r} the generator doubles its start "
                         f"map {ups} times: the width (size) and the height (size / aspect_ratio) must be multiples "
                         f"of {factor} (e.g. size {2 * factor * max(1, round(aspect_ratio))})")
    return int(height), crop_size


class SPADEResnetBlock(nn.Module):
    """The SPADE ResBlk (Fig. 4 right): two SPADE-ReLU-conv steps plus a shortcut, learned when the width changes."""

    def __init__(self, in_channels: int, out_channels: int, semantic_nc: int, spectral: bool = True,
                 param_free_norm: str = "batch", kernel_size: int = 3, spade_hidden: int = 128) -> None:
        super().__init__()
        self.learned_shortcut = in_channels != out_channels
        middle = min(in_channels, out_channels)
        spade = {"hidden": spade_hidden, "kernel_size": kernel_size, "param_free_norm": param_free_norm}
        self.conv_0 = maybe_spectral(nn.Conv2d(in_channels, middle, kernel_size=3, padding=1), spectral)
        self.conv_1 = maybe_spectral(nn.Conv2d(middle, out_channels, kernel_size=3, padding=1), spectral)
        self.norm_0 = SPADE(in_channels, semantic_nc, **spade)
        self.norm_1 = SPADE(middle, semantic_nc, **spade)
        if self.learned_shortcut:
            self.conv_s = maybe_spectral(nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False), spectral)
            self.norm_s = SPADE(in_channels, semantic_nc, **spade)

    def forward(self, x: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        """x: (N, in_channels, H, W), segmap: (N, semantic_nc, h, w) -> (N, out_channels, H, W)."""
        shortcut = self.conv_s(self.norm_s(x, segmap)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, segmap), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, segmap), 0.2))
        return shortcut + dx  # residual: x_s + F(x, m)


class SPADEGenerator(nn.Module):
    """The paper's generator: a start map (downsampled label map or z) decoded by SPADE ResBlks and upsampling."""

    def __init__(self, semantic_nc: int, ngf: int = 64, num_upsampling_layers: str = "normal", crop_size: int = 256,
                 aspect_ratio: float = 1.0, use_vae: bool = False, z_dim: int = 256, spectral: bool = True,
                 param_free_norm: str = "batch", kernel_size: int = 3, spade_hidden: int = 128) -> None:
        super().__init__()
        self.semantic_nc = semantic_nc
        self.ngf = ngf
        self.use_vae = use_vae
        self.z_dim = z_dim
        self.start_height, self.start_width = latent_size(crop_size, aspect_ratio, num_upsampling_layers)
        scale = 2 ** doublings(num_upsampling_layers)
        self.output_size = (self.start_height * scale, self.start_width * scale)  # (H_out, W_out)
        self.plan = decoder_plan(ngf, num_upsampling_layers)
        if use_vae:
            self.fc = nn.Linear(z_dim, 16 * ngf * self.start_height * self.start_width)
        else:
            self.fc = nn.Conv2d(semantic_nc, 16 * ngf, kernel_size=3, padding=1)
        for block in self.plan:
            self.add_module(block.name, SPADEResnetBlock(
                block.in_channels, block.out_channels, semantic_nc, spectral=spectral,
                param_free_norm=param_free_norm, kernel_size=kernel_size, spade_hidden=spade_hidden))
        self.conv_img = nn.Conv2d(self.plan[-1].out_channels, 3, kernel_size=3, padding=1)

    def start(self, semantic: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        """The decoder's first map (N, 16 ngf, start_height, start_width): from z (VAE) or the label map (that size)."""
        if not self.use_vae:
            if z is not None:
                raise ValueError("z was given but this generator has use_vae=False: build it with use_vae=True "
                                 "or call it without z")
            return self.fc(F.interpolate(semantic, size=(self.start_height, self.start_width), mode="nearest"))
        if z is None:
            z = torch.randn(semantic.shape[0], self.z_dim, device=self.fc.weight.device, dtype=self.fc.weight.dtype)
        if z.shape != (semantic.shape[0], self.z_dim):
            raise ValueError(f"z has shape {tuple(z.shape)}: expected (batch, z_dim) = "
                             f"({semantic.shape[0]}, {self.z_dim})")
        return self.fc(z).view(-1, 16 * self.ngf, self.start_height, self.start_width)

    def forward(self, semantic: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """semantic: (N, semantic_nc, H, W) one-hot, z: (N, z_dim) or None -> (N, 3, H_out, W_out)."""
        if len(semantic.shape) != 4 or semantic.shape[1] != self.semantic_nc:
            raise ValueError(f"semantic has shape {tuple(semantic.shape)}: expected (N, {self.semantic_nc}, H, W), "
                             "the one-hot label map (spade_lesson.data.one_hot)")
        segmap = F.interpolate(semantic, size=(self.start_height, self.start_width), mode="nearest")  # at x's size
        x = self.start(segmap, z)
        for block in self.plan:
            if block.upsample:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            if tuple(segmap.shape[2:]) != tuple(x.shape[2:]):
                segmap = F.interpolate(semantic, size=x.shape[2:], mode="nearest")  # from the full map, as officially
            x = getattr(self, block.name)(x, segmap)
        return torch.tanh(self.conv_img(F.leaky_relu(x, 0.2)))

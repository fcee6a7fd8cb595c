"""The SPADE discriminator (Park et al., CVPR 2019, Sec. 3.2): pix2pixHD's multi-scale PatchGAN.

Every conv after the first goes through `spade_lesson.layers.blocks.conv_norm` (norm: "instance", "batch",
"syncbatch" or "none"; the official norm_D "spectralinstance" is spectral=True, norm="instance").

`NLayerDiscriminator(in_channels, n_layers_D=4, ndf=64, spectral=True, norm="instance",
get_intermediate_features=True)`: 4x4 convs, stride 2 except the last two, widths ndf, 2 ndf, ... (at most 512), 1.
forward(x): x (N, in_channels, H, W) -> list of every layer's output, the last being the patch logits (N, 1, h, w);
with get_intermediate_features=False only [logits].

`MultiscaleDiscriminator(in_channels, num_D=2, n_layers_D=4, ndf=64, spectral=True, norm="instance",
get_intermediate_features=True)`: num_D NLayerDiscriminators (discriminator_0, ...), scale k sees x average-pooled
k times (3x3, stride 2, padding 1, padding not counted).
in_channels = semantic_nc + 3 (label map and image concatenated).
forward(x) -> list (one per scale) of lists of features, last = logits. (Training may pass the label map as class ids
with the image as extra channels, spade_lesson.layers.onehot.SegMap: it answers the first conv as lookups and the
pooling between scales itself.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.layers.blocks import conv_norm


class NLayerDiscriminator(nn.Module):
    """A PatchGAN: each logit judges one receptive-field patch of the (label map, image) pair as real or fake."""

    def __init__(self, in_channels: int, n_layers_D: int = 4, ndf: int = 64, spectral: bool = True,
                 norm: str = "instance", get_intermediate_features: bool = True) -> None:
        super().__init__()
        if n_layers_D < 1:
            raise ValueError(f"n_layers_D={n_layers_D} must be at least 1")
        self.get_intermediate_features = get_intermediate_features
        padding = 2  # ceil((4 - 1) / 2), as the official code
        width = ndf
        first = nn.Conv2d(in_channels, width, kernel_size=4, stride=2, padding=padding)
        layers = [nn.Sequential(first, nn.LeakyReLU(0.2))]
        for n in range(1, n_layers_D):
            previous, width = width, min(width * 2, 512)
            stride = 1 if n == n_layers_D - 1 else 2
            conv = nn.Conv2d(previous, width, kernel_size=4, stride=stride, padding=padding)
            layers.append(nn.Sequential(conv_norm(conv, spectral=spectral, norm=norm), nn.LeakyReLU(0.2)))
        layers.append(nn.Sequential(nn.Conv2d(width, 1, kernel_size=4, stride=1, padding=padding)))
        for n, layer in enumerate(layers):
            self.add_module(f"model{n}", layer)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: (N, in_channels, H, W) -> every layer's output (or only [logits]), logits last."""
        features = []
        for layer in self.children():
            x = layer(x)
            features.append(x)
        return features if self.get_intermediate_features else features[-1:]


class MultiscaleDiscriminator(nn.Module):
    """num_D PatchGANs on ever coarser copies of the input: fine ones judge texture, coarse ones layout."""

    def __init__(self, in_channels: int, num_D: int = 2, n_layers_D: int = 4, ndf: int = 64, spectral: bool = True,
                 norm: str = "instance", get_intermediate_features: bool = True) -> None:
        super().__init__()
        if num_D < 1:
            raise ValueError(f"num_D={num_D} must be at least 1")
        self.in_channels = in_channels
        for i in range(num_D):
            self.add_module(f"discriminator_{i}", NLayerDiscriminator(
                in_channels, n_layers_D=n_layers_D, ndf=ndf, spectral=spectral, norm=norm,
                get_intermediate_features=get_intermediate_features))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """x: (N, in_channels, H, W) (label map and image concatenated) -> per scale, the features, logits last."""
        if len(x.shape) != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x has shape {tuple(x.shape)}: expected (N, {self.in_channels}, H, W), "
                             "torch.cat([semantic, image], dim=1)")
        outputs = []
        for discriminator in self.children():
            outputs.append(discriminator(x))
            x = F.avg_pool2d(x, kernel_size=3, stride=2, padding=1, count_include_pad=False)
        return outputs


def check_depth(image_size: tuple[int, int], num_D: int, n_layers_D: int) -> None:
    """A one-line ValueError naming the largest num_D / n_layers_D that fit when D is too deep for image_size (H, W).

    Scale k sees the input average-pooled k times (ceil(side / 2**k)): it must still see at least 2x2 pixels. Each
    stride-2 layer of a PatchGAN (n_layers_D - 1 of them, at least one) maps a side s to s // 2 + 1, which stops
    shrinking at 2: layers past that point only add weights.
    """
    height, width = image_size
    side, scales = min(height, width), 0
    while side >= 2:
        scales, side = scales + 1, (side + 1) // 2
    if num_D > scales:
        raise ValueError(f"num_D={num_D} (--num-D) is too deep for {height}x{width} images: scale {scales} would "
                         f"judge a map 1 pixel across; use num_D <= {scales}")
    side, halvings = min(height, width), 0
    while side > 2:
        halvings, side = halvings + 1, side // 2 + 1
    if max(1, n_layers_D - 1) > max(1, halvings):
        raise ValueError(f"n_layers_D={n_layers_D} (--n-layers-D) is too deep for {height}x{width} images: "
                         f"after {halvings} stride-2 layers the map is 2x2 and shrinks no more; use n_layers_D <= "
                         f"{halvings + 1}")

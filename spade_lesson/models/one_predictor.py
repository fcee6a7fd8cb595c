"""One predictor for every layer: a single conv net reads the label map once and emits every SPADE layer's gamma and
beta maps at once, at the label map's resolution.

Why it is worth a look: per-layer SPADE (spade_lesson.layers.spade.SPADE) gives each normalization layer a conv net of
its own, run on the label map downsampled to that layer's resolution. Here one `SharedPredictor` (conv -> ReLU -> conv;
without the ReLU two stacked convs are one linear conv) predicts 2 * sum(C_l) channels from the full-resolution map,
`assign_modulation_maps` hands layer l its slice [gamma_l, beta_l], and each `SPADE2d` (BatchNorm without affine,
modulated by maps given from outside) area-averages its maps down to its activations' size. Every layer then reads
features learned once from the finest map, and coarse layers see maps predicted from full-resolution detail; the
price is that every map is predicted at the finest resolution, so the predictor's multiply-adds grow with the total
channels instead of shrinking with each layer's resolution. `shared_from_per_layer` shows that per-layer SPADE at a
single resolution is the block-diagonal special case of the shared predictor. `SmallDecoder(..., predictor="shared"
or "per_layer")` builds the same small decoder both ways so that parameters, multiply-adds
(spade_lesson.layers.counting.conv_macs) and time per forward can be compared.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.layers.norms import BatchNorm2d
from spade_lesson.layers.spade import SPADE

PREDICTORS = ("shared", "per_layer")


class SPADE2d(nn.Module):
    """Parameter-free BatchNorm modulated by per-pixel weight/bias maps (N, C, h, w) assigned from outside."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features
        self.param_free_norm = BatchNorm2d(num_features, affine=False)
        self.weight: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W) -> bn(x) * (1 + weight) + bias, the maps area-resized to (H, W)."""
        if self.weight is None or self.bias is None:
            raise RuntimeError(f"SPADE2d({self.num_features}) has no weight/bias maps: call "
                               f"assign_modulation_maps(model, params) before the forward pass")
        if self.weight.shape[0] != x.shape[0]:
            raise ValueError(f"SPADE2d({self.num_features}): the assigned maps are for a batch of "
                             f"{self.weight.shape[0]}, x has {x.shape[0]}; assign params predicted from this batch")
        weight = F.interpolate(self.weight, size=x.shape[2:], mode="area")  # gamma at this layer's resolution
        bias = F.interpolate(self.bias, size=x.shape[2:], mode="area")  # beta at this layer's resolution
        return self.param_free_norm(x) * (1 + weight) + bias  # Eq. (1): gamma (h - mu) / sigma + beta


class SharedPredictor(nn.Module):
    """The shared predictor: conv -> ReLU -> conv, segmap (N, label_nc, H, W) -> params (N, out_channels, H, W)."""

    def __init__(self, label_nc: int, out_channels: int, hidden: int = 128, kernel_size: int = 3) -> None:
        super().__init__()
        padding = kernel_size // 2
        self.mlp_shared = nn.Sequential(
            nn.Conv2d(label_nc, hidden, kernel_size=kernel_size, padding=padding),
            nn.ReLU(),  # without it the two convs would be one linear conv
        )
        self.mlp_params = nn.Conv2d(hidden, out_channels, kernel_size=kernel_size, padding=padding)

    def forward(self, segmap: torch.Tensor) -> torch.Tensor:
        """segmap: (N, label_nc, H, W) one-hot -> every layer's [gamma_l, beta_l] stacked: (N, out_channels, H, W)."""
        return self.mlp_params(self.mlp_shared(segmap))


def spade_layers(model: nn.Module) -> list[SPADE2d]:
    """The SPADE2d layers of model, in module order."""
    return [module for module in model.modules() if isinstance(module, SPADE2d)]


def modulation_channels(model: nn.Module) -> int:
    """Channels the predictor must emit: sum over SPADE2d layers of 2 * num_features (a gamma and a beta map)."""
    return sum(2 * layer.num_features for layer in spade_layers(model))


def assign_modulation_maps(model: nn.Module, params: torch.Tensor) -> None:
    """params: (N, modulation_channels(model), h, w); layer l (module order) gets channels [gamma_l, beta_l]."""
    expected = modulation_channels(model)
    if params.dim() != 4 or params.shape[1] != expected:
        raise ValueError(f"assign_modulation_maps: params must be (N, {expected}, h, w) for this model's SPADE2d "
                         f"layers, got {tuple(params.shape)}; build the predictor with modulation_channels(model)")
    start = 0
    for layer in spade_layers(model):
        c = layer.num_features
        layer.weight = params[:, start:start + c]
        layer.bias = params[:, start + c:start + 2 * c]
        start += 2 * c


def shared_from_per_layer(spades: Sequence[SPADE]) -> SharedPredictor:
    """One SharedPredictor equal to several per-layer SPADE predictors at one resolution (a block-diagonal second
    conv)."""
    first = [spade.mlp_shared[0] for spade in spades]
    label_nc, kernel_size = first[0].in_channels, first[0].kernel_size[0]
    if any(conv.in_channels != label_nc or conv.kernel_size[0] != kernel_size for conv in first):
        raise ValueError("shared_from_per_layer: every SPADE must read the same label_nc with the same kernel_size")
    hiddens = [conv.out_channels for conv in first]
    out_channels = sum(2 * spade.mlp_gamma.out_channels for spade in spades)
    shared = SharedPredictor(label_nc, out_channels, hidden=sum(hiddens), kernel_size=kernel_size)
    with torch.no_grad():
        conv1, conv2 = shared.mlp_shared[0], shared.mlp_params
        conv1.weight.copy_(torch.cat([conv.weight for conv in first]))  # every layer's hidden units side by side
        conv1.bias.copy_(torch.cat([conv.bias for conv in first]))
        conv2.weight.zero_()
        row, col = 0, 0
        for spade, hidden in zip(spades, hiddens):
            for head in (spade.mlp_gamma, spade.mlp_beta):  # layer l's gamma and beta read only its own hidden units
                c = head.out_channels
                conv2.weight[row:row + c, col:col + hidden] = head.weight
                conv2.bias[row:row + c] = head.bias
                row += c
            col += hidden
    return shared


class SmallDecoder(nn.Module):
    """Tiny label-to-image decoder, layer l at H / 2**(L-1-l) with channels[l] features, one SPADE per layer."""

    def __init__(self, label_nc: int, channels: Sequence[int] = (64, 32, 16), hidden: int = 64,
                 predictor: str = "shared") -> None:
        super().__init__()
        if predictor not in PREDICTORS:
            raise ValueError(f"predictor={predictor!r} is not known: use one of {', '.join(PREDICTORS)}")
        self.predictor_kind = predictor
        self.num_layers = len(channels)
        widths = [label_nc] + list(channels)
        self.convs = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], kernel_size=3, padding=1)
                                   for i in range(self.num_layers))
        if predictor == "shared":
            self.norms = nn.ModuleList(SPADE2d(c) for c in channels)
            self.predictor = SharedPredictor(label_nc, modulation_channels(self.norms), hidden=hidden)
        else:
            self.norms = nn.ModuleList(SPADE(c, label_nc, hidden=hidden) for c in channels)
        self.to_rgb = nn.Conv2d(channels[-1], 3, kernel_size=3, padding=1)

    def forward(self, segmap: torch.Tensor) -> torch.Tensor:
        """segmap: (N, label_nc, H, W) one-hot, H and W divisible by 2**(L-1) -> image (N, 3, H, W) in [-1, 1]."""
        factor = 2 ** (self.num_layers - 1)
        if segmap.dim() != 4 or segmap.shape[2] % factor or segmap.shape[3] % factor:
            raise ValueError(f"SmallDecoder: segmap must be (N, label_nc, H, W) with H, W divisible by {factor}, "
                             f"got {tuple(segmap.shape)}")
        if self.predictor_kind == "shared":
            assign_modulation_maps(self, self.predictor(segmap))  # one prediction, at the label's resolution
        size = (segmap.shape[2] // factor, segmap.shape[3] // factor)
        x = F.interpolate(segmap, size=size, mode="nearest")
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if i > 0:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = conv(x)
            x = norm(x) if isinstance(norm, SPADE2d) else norm(x, segmap)
            x = F.leaky_relu(x, 0.2)
        return torch.tanh(self.to_rgb(x))

"""The small layers every network here is built from: a normalization by name, spectral norm, conv + norm.

`norm_layer(kind, num_features, affine)`: "none", "batch", "syncbatch", "instance", "layer" (one group over C, H, W)
or "group" (num_groups groups), with or without a learned per-channel scale and shift; `choices` narrows the kinds a
caller accepts (SPADE's param-free norms, the discriminator's norm_D, the baseline's norms) and `argument` names the
caller's argument in the error.
`maybe_spectral(conv, spectral)`: the conv, spectral-normalized when asked (old-style weight_orig/_u/_v keys, as the
official checkpoints store them).
`conv_norm(conv, spectral=True, norm="instance")`: a conv followed by a non-SPADE norm ("instance" without affine,
"batch" or "syncbatch" with affine, or "none"), spectral-normalized when asked; the conv loses its bias when a norm
follows. The official norm_D / norm_E string "spectralinstance" is spectral=True, norm="instance".
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn
from torch.nn.utils import spectral_norm

NORM_KINDS = ("none", "batch", "syncbatch", "instance", "layer", "group")
CONV_NORMS = ("instance", "batch", "syncbatch", "none")  # the official norm_D / norm_E choices after "spectral"


def norm_layer(kind: str, num_features: int, affine: bool, num_groups: int | None = None,
               choices: Sequence[str] = NORM_KINDS, argument: str = "norm") -> nn.Module:
    """A normalization of num_features channels by name, with a learned scale and shift per channel when affine."""
    if kind not in choices:
        raise ValueError(f"{argument}={kind!r} is not known: use one of {', '.join(choices)}")
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(num_features, affine=affine)
    if kind == "syncbatch":
        return nn.SyncBatchNorm(num_features, affine=affine)
    if kind == "instance":
        return nn.InstanceNorm2d(num_features, affine=affine)
    if kind == "layer":
        return nn.GroupNorm(1, num_features, affine=affine)  # one group = LayerNorm over (C, H, W)
    if kind == "group":
        if num_groups is None:
            raise ValueError(f"{argument}='group' needs num_groups (a divisor of {num_features})")
        return nn.GroupNorm(num_groups, num_features, affine=affine)
    raise ValueError(f"{argument}={kind!r} is not known: use one of {', '.join(NORM_KINDS)}")


def maybe_spectral(conv: nn.Module, spectral: bool) -> nn.Module:
    """Wrap conv in spectral normalization (weight / sigma(weight), old-style weight_orig/_u/_v keys) when asked."""
    return spectral_norm(conv) if spectral else conv


def conv_norm(conv: nn.Conv2d, spectral: bool = True, norm: str = "instance") -> nn.Module:
    """conv, spectral-normalized when asked, then a non-SPADE norm (Sequential(conv, norm)) unless norm="none"."""
    layer = norm_layer(norm, conv.out_channels, affine=norm != "instance", choices=CONV_NORMS)
    conv = maybe_spectral(conv, spectral)
    if norm == "none":
        return conv
    conv.register_parameter("bias", None)  # a bias before a norm is cancelled by its mean subtraction
    return nn.Sequential(conv, layer)

"""The generators of the ablation (Park et al., CVPR 2019, Sec. 4 "Ablation studies" and Tables of generator
variations; Tan et al., TPAMI 2021), built from the course's own layers; each is called as forward(semantic, z=None).

- `spade`: the SPADE decoder (spade_lesson.models.generator.SPADEGenerator);
- `concat`: the same decoder, BatchNorm in place of SPADE, the resized label map concatenated to the input of every
  residual block (the paper's "decoder w/ Concat"): the label everywhere, normalization kept, no modulation;
- `input_bn`, `input_in`: the label map at the input only (spade_lesson.models.baselines.BaselineGenerator), BatchNorm /
  InstanceNorm; `input_nonorm`: the same with no normalization at all (the control for "normalization hurts");
- `spade_1x1`: SPADE with 1x1 kernels (the paper's kernel-size study), its embedding widened to SPADE's size;
- `spade_instance`: SPADE over InstanceNorm instead of BatchNorm (the paper's parameter-free-norm study);
- `clade`: the SPADE decoder with CLADE (spade_lesson.layers.clade) in place of SPADE, at the same width: a cost
  comparison.

`VARIANTS`: name -> Variant (what it isolates, where the label enters, whether its size is matched, its builder).
`build_variant(name, semantic_nc, ngf=16, spade_hidden=32, crop_size=64, aspect_ratio=1.0, spectral=True)`: the
generator; every variant whose `matched` is True has a parameter count within 10% of `spade`'s at the same arguments
from ngf 16 on (narrower networks leave too few widths to choose from).
`norm_macs(generator, semantic_nc, height, width)`: multiply-adds per image inside its normalization layers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.layers.clade import CLADE
from spade_lesson.layers.counting import closest_width, conv_multiply_adds, count_parameters
from spade_lesson.layers.onehot import SegMap
from spade_lesson.layers.spade import SPADE
from spade_lesson.models.baselines import BaselineGenerator, BaselineResnetBlock
from spade_lesson.models.generator import SPADEGenerator, decoder_plan, latent_size

MATCH_TOLERANCE = 0.10  # a matched variant's parameter count is within 10% of spade's


def _no_style(z: torch.Tensor | None) -> None:
    """These generators have no style input: z must be None (the trainer passes it only with use_vae)."""
    if z is not None:
        raise ValueError("z was given but this generator has no style input: train it without use_vae")


def _check_semantic(semantic: torch.Tensor, semantic_nc: int) -> None:
    """semantic must be (N, semantic_nc, H, W)."""
    if semantic.dim() != 4 or semantic.shape[1] != semantic_nc:
        raise ValueError(f"semantic has shape {tuple(semantic.shape)}: expected (N, {semantic_nc}, H, W), "
                         "the one-hot label map (spade_lesson.data.one_hot)")


class InputOnlyGenerator(BaselineGenerator):
    """The label map at the input only (BaselineGenerator), norm "batch", "instance" or "none", called with z=None."""

    def __init__(self, semantic_nc: int, ngf: int = 64, crop_size: int = 256, aspect_ratio: float = 1.0,
                 norm: str = "batch", spectral: bool = True) -> None:
        super().__init__(semantic_nc, ngf=ngf, crop_size=crop_size, aspect_ratio=aspect_ratio,
                         norm="batch" if norm == "none" else norm, spectral=spectral)
        if norm == "none":  # the same network with every normalization layer taken out
            _replace(self, lambda module: isinstance(module, nn.BatchNorm2d), lambda module: nn.Identity())

    def forward(self, semantic: torch.Tensor | SegMap, z: torch.Tensor | None = None) -> torch.Tensor:
        """semantic: (N, semantic_nc, H, W) one-hot or a SegMap -> image (N, 3, H, W) in [-1, 1]; z must be None."""
        _no_style(z)
        return super().forward(semantic)


class ConcatGenerator(nn.Module):
    """The SPADE decoder with affine BatchNorm blocks, the label map resized and concatenated to every block's input."""

    def __init__(self, semantic_nc: int, ngf: int = 64, crop_size: int = 256, aspect_ratio: float = 1.0,
                 spectral: bool = True) -> None:
        super().__init__()
        self.semantic_nc = semantic_nc
        self.start_height, self.start_width = latent_size(crop_size, aspect_ratio, "normal")
        self.plan = decoder_plan(ngf, "normal")
        self.fc = nn.Conv2d(semantic_nc, 16 * ngf, kernel_size=3, padding=1)  # SPADE's start: the downsampled map
        for block in self.plan:
            self.add_module(block.name, BaselineResnetBlock(block.in_channels + semantic_nc, block.out_channels,
                                                            norm="batch", spectral=spectral))
        self.conv_img = nn.Conv2d(self.plan[-1].out_channels, 3, kernel_size=3, padding=1)

    def forward(self, semantic: torch.Tensor | SegMap, z: torch.Tensor | None = None) -> torch.Tensor:
        """semantic: (N, semantic_nc, H, W) one-hot or a SegMap -> image (N, 3, H_out, W_out) in [-1, 1]; z None."""
        if isinstance(semantic, SegMap):  # the map is concatenated as channels: it is needed dense
            semantic = semantic.dense()
        _check_semantic(semantic, self.semantic_nc)
        _no_style(z)
        x = self.fc(F.interpolate(semantic, size=(self.start_height, self.start_width), mode="nearest"))
        for block in self.plan:
            if block.upsample:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            segmap = F.interpolate(semantic, size=x.shape[2:], mode="nearest")
            x = getattr(self, block.name)(torch.cat([x, segmap], dim=1))  # [h, m]: the label map beside the features
        return torch.tanh(self.conv_img(F.leaky_relu(x, 0.2)))


def _replace(root: nn.Module, select: Callable[[nn.Module], bool], make: Callable[[nn.Module], nn.Module]) -> None:
    """Swap every submodule of root that select() picks for make(submodule), in place."""
    for name, child in list(root.named_children()):
        if select(child):
            setattr(root, name, make(child))
        else:
            _replace(child, select, make)


def clade_generator(semantic_nc: int, ngf: int = 64, crop_size: int = 256, aspect_ratio: float = 1.0,
                    spectral: bool = True) -> SPADEGenerator:
    """The SPADE generator with each SPADE layer replaced by a CLADE layer of the same width."""
    generator = SPADEGenerator(semantic_nc, ngf=ngf, crop_size=crop_size, aspect_ratio=aspect_ratio, spectral=spectral)
    _replace(generator, lambda module: isinstance(module, SPADE),
             lambda spade: CLADE(spade.mlp_gamma.out_channels, semantic_nc))
    return generator


@dataclass(frozen=True)
class Shape:
    """What every builder takes: the label channels, the base widths, the output size, spectral norm or not."""

    semantic_nc: int
    ngf: int
    spade_hidden: int
    crop_size: int
    aspect_ratio: float
    spectral: bool


def _spade(shape: Shape, **overrides: object) -> SPADEGenerator:
    """A SPADEGenerator of this shape (keyword overrides: kernel_size, spade_hidden, param_free_norm)."""
    options = {"ngf": shape.ngf, "spade_hidden": shape.spade_hidden, **overrides}
    return SPADEGenerator(shape.semantic_nc, crop_size=shape.crop_size, aspect_ratio=shape.aspect_ratio,
                          spectral=shape.spectral, **options)


def _matched(build: Callable[[Shape, int], nn.Module]) -> Callable[[Shape], nn.Module]:
    """A builder that picks the width w for build(shape, w) whose parameter count is closest to spade's."""
    def sized(shape: Shape) -> nn.Module:
        """build(shape, w) at the matching width (counted without spectral norm: the same count, built faster)."""
        plain = replace(shape, spectral=False)
        with torch.device("meta"):
            target = count_parameters(_spade(plain))
        return build(shape, closest_width(lambda width: build(plain, width), target))

    return sized


def _input_only(norm: str) -> Callable[[Shape], nn.Module]:
    """The input-only builder with this norm, its ngf matched to spade's size."""
    return _matched(lambda shape, ngf: InputOnlyGenerator(shape.semantic_nc, ngf=ngf, crop_size=shape.crop_size,
                                                          aspect_ratio=shape.aspect_ratio, norm=norm,
                                                          spectral=shape.spectral))


@dataclass(frozen=True)
class Variant:
    """One generator of the ablation: what it isolates, where the label map enters, its norm, how it is sized."""

    isolates: str  # the question this variant answers, compared with spade (or with its partner)
    label: str  # where the label map enters: "every block" or "input only"
    norm: str  # the normalization: what it computes and how the label map reaches it
    matched: bool  # parameter count within MATCH_TOLERANCE of spade's (False: a cost comparison, smaller on purpose)
    build: Callable[[Shape], nn.Module]


VARIANTS: dict[str, Variant] = {
    "spade": Variant("the reference: SPADE in every block", "every block", "BatchNorm + SPADE (3x3)", True, _spade),
    "concat": Variant("modulating the normalized features vs. feeding the label map as extra input channels "
                      "(label everywhere in both)", "every block", "BatchNorm (affine), map concatenated", True,
                      _matched(lambda shape, ngf: ConcatGenerator(shape.semantic_nc, ngf=ngf,
                                                                  crop_size=shape.crop_size,
                                                                  aspect_ratio=shape.aspect_ratio,
                                                                  spectral=shape.spectral))),
    "input_bn": Variant("the label map at the input only (vs. concat: where the label enters)", "input only",
                        "BatchNorm (affine)", True, _input_only("batch")),
    "input_in": Variant("the same with InstanceNorm, which also removes each image's own statistics", "input only",
                        "InstanceNorm (affine)", True, _input_only("instance")),
    "input_nonorm": Variant("no normalization at all (vs. input_bn: does normalization wash the label out?)",
                            "input only", "none", True, _input_only("none")),
    "spade_1x1": Variant("SPADE's kernels 1x1 instead of 3x3: gamma, beta from the pixel's own label only "
                         "(embedding widened to equal size)", "every block", "BatchNorm + SPADE (1x1)", True,
                         _matched(lambda shape, hidden: _spade(shape, kernel_size=1, spade_hidden=hidden))),
    "spade_instance": Variant("SPADE over InstanceNorm instead of BatchNorm (the parameter-free norm)",
                              "every block", "InstanceNorm + SPADE (3x3)", True,
                              lambda shape: _spade(shape, param_free_norm="instance")),
    "clade": Variant("gamma, beta looked up per class (no convolution) at the same width: SPADE's quality at "
                     "less cost?", "every block", "BatchNorm + CLADE (table)", False,
                     lambda shape: clade_generator(shape.semantic_nc, ngf=shape.ngf, crop_size=shape.crop_size,
                                                   aspect_ratio=shape.aspect_ratio, spectral=shape.spectral)),
}


def build_variant(name: str, semantic_nc: int, ngf: int = 16, spade_hidden: int = 32, crop_size: int = 64,
                  aspect_ratio: float = 1.0, spectral: bool = True) -> nn.Module:
    """The generator `name` of VARIANTS for this label set and size; ngf, spade_hidden are spade's (the reference)."""
    if name not in VARIANTS:
        raise ValueError(f"variant {name!r} is not known: use one of {', '.join(VARIANTS)}")
    return VARIANTS[name].build(Shape(semantic_nc, ngf, spade_hidden, crop_size, aspect_ratio, spectral))


@torch.no_grad()
def norm_macs(generator: nn.Module, semantic_nc: int, height: int, width: int) -> int:
    """Multiply-adds per image inside the normalization layers of generator for an (height, width) label map.

    Counted: the convolutions that predict gamma and beta from the map (SPADE), and one multiply-add per normalized
    activation for the scale and shift (x_hat (1 + gamma) + beta, or gamma x_hat + beta for an affine BatchNorm /
    InstanceNorm). Not counted: the standardization (x - mu) / sigma, the same in every normalized variant, and
    CLADE's table lookup, which reads a row and multiplies nothing.
    """
    counts: list[int] = []

    def modulated(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        """One multiply-add per value the layer scales and shifts."""
        counts.append(output[0].numel())

    def convolved(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        """The multiply-adds of a conv inside a SPADE branch."""
        counts.append(conv_multiply_adds(module, output))  # batch 1: per image

    hooks = []
    for module in generator.modules():
        affine_norm = isinstance(module, (nn.BatchNorm2d, nn.InstanceNorm2d)) and module.affine
        if isinstance(module, (SPADE, CLADE)) or affine_norm:
            hooks.append(module.register_forward_hook(modulated))
        if isinstance(module, SPADE):
            hooks += [conv.register_forward_hook(convolved) for conv in module.modules()
                      if isinstance(conv, nn.Conv2d)]
    was_training = generator.training
    generator.eval()
    try:
        device = next(generator.parameters()).device
        generator(torch.zeros(1, semantic_nc, height, width, device=device))
    finally:
        generator.train(was_training)
        for hook in hooks:
            hook.remove()
    return sum(counts)

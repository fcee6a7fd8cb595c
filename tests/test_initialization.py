"""Tests for spade_lesson.layers.initialization: init_weights draws what the official BaseNetwork.init_weights draws."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from spade_lesson.data.semantic import one_hot
from spade_lesson.layers.blocks import maybe_spectral
from spade_lesson.layers.initialization import INIT_TYPES, init_weights
from spade_lesson.models import official
from spade_lesson.models.discriminator import MultiscaleDiscriminator
from spade_lesson.models.encoder import ConvEncoder
from spade_lesson.models.generator import SPADEGenerator

REFERENCE = Path(__file__).parent / "data" / "official_spade_facades_small.pt"  # official networks, freshly initialized


def _weights(module: nn.Module) -> list[tuple[nn.Module, torch.Tensor]]:
    """(layer, the learned weight tensor) of every Conv2d and Linear, spectral ones through weight_orig."""
    layers = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return [(m, getattr(m, "weight_orig", m.weight).detach()) for m in layers]


def _fans(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a conv (out, in, kh, kw) or linear (out, in) weight."""
    receptive = weight[0, 0].numel()
    return weight.shape[1] * receptive, weight.shape[0] * receptive


@pytest.mark.parametrize("init_type", ["xavier", "xavier_uniform", "normal", "kaiming", "orthogonal"])
def test_each_layer_gets_exactly_torchs_draw_for_the_official_rule(init_type: str) -> None:
    reference = {"xavier": lambda w: nn.init.xavier_normal_(w, gain=0.05),
                 "xavier_uniform": lambda w: nn.init.xavier_uniform_(w, gain=1.0),
                 "normal": lambda w: nn.init.normal_(w, 0.0, 0.05),
                 "kaiming": lambda w: nn.init.kaiming_normal_(w, a=0, mode="fan_in"),
                 "orthogonal": lambda w: nn.init.orthogonal_(w, gain=0.05)}[init_type]
    for layer in (nn.Conv2d(3, 5, 3), nn.Linear(7, 4), maybe_spectral(nn.Conv2d(2, 6, 4), spectral=True)):
        torch.manual_seed(1)
        init_weights(layer, init_type=init_type, gain=0.05)
        expected = getattr(layer, "weight_orig", layer.weight).detach().clone()
        torch.manual_seed(1)
        with torch.no_grad():
            reference(expected)
        assert torch.equal(getattr(layer, "weight_orig", layer.weight), expected)
        assert torch.all(layer.bias == 0)


@pytest.mark.slow
def test_xavier_statistics_of_the_whole_generator_match_the_formula() -> None:
    torch.manual_seed(0)
    generator = init_weights(SPADEGenerator(semantic_nc=6, ngf=8, crop_size=64, use_vae=True, z_dim=16))
    standardized, biases = [], []
    for layer, weight in _weights(generator):
        fan_in, fan_out = _fans(weight)
        standardized.append(weight.flatten() / (0.02 * math.sqrt(2 / (fan_in + fan_out))))  # std gain*sqrt(2/fans)
        biases.append(torch.zeros(0) if layer.bias is None else layer.bias.detach())
    z = torch.cat(standardized)
    assert len(z) > 500_000 and abs(float(z.mean())) < 0.01 and float(z.std()) == pytest.approx(1.0, abs=0.01)
    assert float(torch.cat(biases).abs().max()) == 0.0


def test_batchnorm_scales_are_normal_around_one_and_shifts_zero() -> None:
    torch.manual_seed(0)
    discriminator = init_weights(MultiscaleDiscriminator(in_channels=4, num_D=2, n_layers_D=4, ndf=64, norm="batch"),
                                 init_type="normal", gain=0.1)
    norms = [m for m in discriminator.modules() if isinstance(m, nn.BatchNorm2d)]
    scales = torch.cat([m.weight for m in norms]).detach()
    assert len(scales) > 1000 and float(scales.mean()) == pytest.approx(1.0, abs=0.01)
    assert float(scales.std()) == pytest.approx(0.1, rel=0.05)
    assert float(torch.cat([m.bias for m in norms]).detach().abs().max()) == 0.0
    convs = torch.cat([w.flatten() for _, w in _weights(discriminator)])
    assert float(convs.std()) == pytest.approx(0.1, rel=0.01)  # "normal": N(0, gain^2) whatever the fans


@pytest.mark.slow
def test_orthogonal_kaiming_and_none() -> None:
    torch.manual_seed(0)
    encoder = init_weights(ConvEncoder(ngf=4, z_dim=8), init_type="orthogonal", gain=0.3)
    for _, weight in _weights(encoder):
        rows = weight.reshape(weight.shape[0], -1)
        gram = rows @ rows.T if rows.shape[0] <= rows.shape[1] else rows.T @ rows
        assert torch.allclose(gram, 0.09 * torch.eye(len(gram)), atol=1e-5)
    init_weights(encoder, init_type="kaiming")
    for _, weight in _weights(encoder)[:-2]:  # the convs; the linear heads have too few inputs for a tight check
        assert float(weight.std()) == pytest.approx(math.sqrt(2 / _fans(weight)[0]), rel=0.2)
    conv = nn.Conv2d(3, 4, 3)
    before = conv.weight.detach().clone()
    init_weights(conv, init_type="none")
    assert torch.equal(conv.weight, before) and torch.all(conv.bias == 0)


@pytest.mark.slow
def test_spade_starts_as_its_param_free_norm() -> None:
    torch.manual_seed(0)
    generator = init_weights(SPADEGenerator(semantic_nc=6, ngf=8, crop_size=64))
    semantic = torch.zeros(2, 6, 64, 64)
    semantic[:, 0, :32], semantic[:, 3, 32:] = 1, 1
    gammas = []
    generator.head_0.norm_0.mlp_gamma.register_forward_hook(lambda module, args, out: gammas.append(out))
    with torch.no_grad():
        generator(semantic)
    assert float(gammas[0].abs().max()) < 1e-3  # out = norm(x) * (1 + gamma) + beta with gamma ~ 0


def test_bad_init_arguments_name_the_choices() -> None:
    with pytest.raises(ValueError, match="init_type='uniform' is not known: use one of " + ", ".join(INIT_TYPES)):
        init_weights(nn.Linear(2, 2), init_type="uniform")
    with pytest.raises(ValueError, match="init_variance"):
        init_weights(nn.Linear(2, 2), gain=0.0)


def _standardized(state: dict[str, torch.Tensor], gain: float = 0.02) -> tuple[torch.Tensor, torch.Tensor]:
    """Every conv / linear weight of a state dict divided by the Xavier std gain * sqrt(2 / (fan_in + fan_out)), and
    every bias, each concatenated."""
    weights, biases = [], []
    for key, value in state.items():
        if key.endswith(("weight", "weight_orig")) and value.dim() in (2, 4):
            fan_in, fan_out = _fans(value)
            weights.append(value.flatten() / (gain * math.sqrt(2 / (fan_in + fan_out))))
        elif key.endswith("bias"):
            biases.append(value.flatten())
    return torch.cat(weights), torch.cat(biases)


@pytest.mark.slow
def test_our_networks_start_where_the_official_reference_networks_start() -> None:
    reference = torch.load(REFERENCE, weights_only=True)
    options = reference["options"]
    assert (options["init_type"], options["init_variance"]) == ("xavier", 0.02)
    torch.manual_seed(0)
    ours = {"G": init_weights(SPADEGenerator(**official.network_arguments("G", options))),
            "D": init_weights(MultiscaleDiscriminator(**official.network_arguments("D", options)))}
    for kind in ("G", "D"):
        for state in (reference[f"{kind}_state_dict"], ours[kind].state_dict()):
            weights, biases = _standardized(state)
            assert float(weights.std()) == pytest.approx(1.0, abs=0.01) and float(biases.abs().max()) == 0.0


@pytest.mark.slow
def test_an_official_initialized_generator_outputs_at_the_official_scale() -> None:
    reference = torch.load(REFERENCE, weights_only=True)
    options = reference["options"]
    semantic = one_hot(reference["inputs"]["label"], options["label_nc"])
    scale = {}
    for init in ("official", "pytorch default"):
        torch.manual_seed(0)
        generator = SPADEGenerator(**official.network_arguments("G", options))
        if init == "official":
            init_weights(generator)
        with torch.no_grad():
            for _ in range(3):  # as the reference was made: three training-mode passes (BatchNorm running var 0.9^3)
                generator(semantic)
            scale[init] = float(generator.eval()(semantic).std())
    official_scale = float(reference["outputs"]["fake"].std())  # 4e-4: the official G starts near a grey image
    assert official_scale / 4 < scale["official"] < 4 * official_scale
    assert scale["pytorch default"] > 20 * official_scale  # the control: PyTorch's own init is far from it

"""spade_lesson.models.one_predictor: one predictor for every layer, checked against per-layer SPADE where they
agree."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.data.semantic import one_hot
from spade_lesson.layers.counting import conv_macs
from spade_lesson.layers.spade import SPADE
from spade_lesson.models.one_predictor import (
    SmallDecoder,
    SPADE2d,
    assign_modulation_maps,
    modulation_channels,
    shared_from_per_layer,
)

K = 5


def segmap(n: int = 2, size: int = 8, seed: int = 0) -> torch.Tensor:
    """A random one-hot label map (n, K, size, size), float64."""
    label = torch.randint(0, K, (n, size, size), generator=torch.Generator().manual_seed(seed))
    return one_hot(label, K).double()


def test_num_params_counts_a_gamma_and_a_beta_per_channel() -> None:
    assert modulation_channels(nn.Sequential(SPADE2d(3), nn.ReLU(), SPADE2d(7))) == 20
    assert modulation_channels(SmallDecoder(K, channels=(8, 4, 2))) == 28
    assert modulation_channels(SmallDecoder(K, channels=(8, 4, 2), predictor="per_layer")) == 0
    assert SmallDecoder(K, channels=(8, 4, 2)).predictor.mlp_params.out_channels == 28


def test_assignment_splits_channels_in_module_order() -> None:
    model = nn.Sequential(SPADE2d(2), nn.Sequential(nn.ReLU(), SPADE2d(3)))
    params = torch.arange(10.0).reshape(1, 10, 1, 1).expand(4, 10, 6, 6)
    assign_modulation_maps(model, params)
    first, second = model[0], model[1][1]
    assert first.weight.shape == (4, 2, 6, 6) and second.bias.shape == (4, 3, 6, 6)
    assert first.weight[0, :, 0, 0].tolist() == [0, 1] and first.bias[0, :, 0, 0].tolist() == [2, 3]
    assert second.weight[0, :, 0, 0].tolist() == [4, 5, 6] and second.bias[0, :, 0, 0].tolist() == [7, 8, 9]


def test_wrong_param_count_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(N, 10, h, w\)"):
        assign_modulation_maps(nn.Sequential(SPADE2d(2), SPADE2d(3)), torch.zeros(1, 9, 4, 4))


def test_forward_before_assignment_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="call assign_modulation_maps"):
        SPADE2d(3)(torch.randn(2, 3, 4, 4))


def test_maps_for_another_batch_are_refused() -> None:
    layer = SPADE2d(3)
    assign_modulation_maps(layer, torch.zeros(2, 6, 4, 4))
    with pytest.raises(ValueError, match="batch of 2"):
        layer(torch.randn(3, 3, 4, 4))


def test_maps_are_area_averaged_to_the_layer_resolution() -> None:
    torch.manual_seed(0)
    layer = SPADE2d(3).double()
    params = torch.randn(2, 6, 8, 8, dtype=torch.float64)
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    assign_modulation_maps(layer, params)
    gamma, beta = F.avg_pool2d(params[:, :3], 2), F.avg_pool2d(params[:, 3:], 2)
    expected = F.batch_norm(x, None, None, training=True) * (1 + gamma) + beta
    assert torch.allclose(layer(x), expected, atol=1e-12)


def test_equals_per_layer_spade_when_the_maps_coincide() -> None:
    # several layers at the label's own resolution: the shared predictor built from the per-layer ones is exact
    torch.manual_seed(0)
    spades = [SPADE(4, K, hidden=6).double(), SPADE(3, K, hidden=5).double(), SPADE(2, K, hidden=7).double()]
    layers = nn.ModuleList(SPADE2d(s.mlp_gamma.out_channels) for s in spades).double()
    shared = shared_from_per_layer(spades).double()
    m = segmap()
    xs = [torch.randn(2, s.mlp_gamma.out_channels, 8, 8, dtype=torch.float64) for s in spades]
    assign_modulation_maps(layers, shared(m))
    for spade, layer, x in zip(spades, layers, xs):
        assert torch.allclose(layer(x), spade(x, m), atol=1e-10)


def test_one_layer_decoders_agree_shared_and_per_layer() -> None:
    torch.manual_seed(0)
    per_layer = SmallDecoder(K, channels=(6,), hidden=8, predictor="per_layer").double()
    shared = SmallDecoder(K, channels=(6,), hidden=8, predictor="shared").double()
    shared.convs.load_state_dict(per_layer.convs.state_dict())
    shared.to_rgb.load_state_dict(per_layer.to_rgb.state_dict())
    shared.predictor.load_state_dict(shared_from_per_layer(list(per_layer.norms)).state_dict())
    m = segmap()
    assert torch.allclose(shared(m), per_layer(m), atol=1e-10)
    # with several resolutions the two designs differ: the shared maps are averaged down, not predicted there
    deep = SmallDecoder(K, channels=(6, 4), hidden=8).double()
    deep(m)
    assert [tuple(layer.weight.shape[2:]) for layer in deep.norms] == [(8, 8), (8, 8)]


def test_gradients_reach_the_predictor() -> None:
    torch.manual_seed(0)
    model = SmallDecoder(K, channels=(8, 4, 2), hidden=8).double()
    model(segmap(size=16)).square().mean().backward()
    for conv in (model.predictor.mlp_shared[0], model.predictor.mlp_params):
        assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("predictor", ["shared", "per_layer"])
def test_decoder_output_shape_and_range(predictor: str) -> None:
    out = SmallDecoder(K, channels=(8, 4, 2), hidden=8, predictor=predictor).double()(segmap(size=16))
    assert out.shape == (2, 3, 16, 16) and out.abs().max() <= 1


def test_decoder_errors() -> None:
    with pytest.raises(ValueError, match="divisible by 4"):
        SmallDecoder(K, channels=(8, 4, 2))(segmap(size=10).float())
    with pytest.raises(ValueError, match="predictor='global'"):
        SmallDecoder(K, predictor="global")
    with pytest.raises(ValueError, match="same label_nc"):
        shared_from_per_layer([SPADE(2, K), SPADE(2, K + 1)])


def test_shared_predictor_costs_more_at_several_resolutions() -> None:
    m = segmap(size=16).float()
    shared = conv_macs(SmallDecoder(K, channels=(8, 4, 2), hidden=8), m)
    per_layer = conv_macs(SmallDecoder(K, channels=(8, 4, 2), hidden=8, predictor="per_layer"), m)
    assert shared["predictor.mlp_params"] == 2 * 16 * 16 * 8 * 9 * 28  # batch 2, 28 maps, all at the label's 16x16
    assert per_layer["norms.0.mlp_gamma"] == 2 * 4 * 4 * 8 * 9 * 8  # batch 2, layer 0's 8 gamma maps at 4x4
    assert sum(shared.values()) > sum(per_layer.values())

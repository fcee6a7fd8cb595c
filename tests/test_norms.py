"""spade_lesson.layers.norms against torch's own normalization layers, in float64."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.layers.norms import BatchNorm2d, batch_norm, group_norm, instance_norm, layer_norm, normalize

TOL = 1e-10

# (N, C, H, W): ordinary maps, batch 1 with H*W > 1, 1x1 maps with N > 1, odd sizes
SHAPES = [(4, 3, 5, 6), (1, 2, 3, 4), (5, 4, 1, 1), (2, 7, 1, 9), (3, 1, 8, 8)]
CONFIGS = [
    {"momentum": 0.1},
    {"momentum": 0.5, "eps": 1e-3},
    {"momentum": None},
    {"affine": False},
    {"track_running_stats": False},
    {"momentum": None, "affine": False},
]


def pair(num_features: int, seed: int, **kwargs) -> tuple[BatchNorm2d, nn.BatchNorm2d]:
    """Ours and torch's, float64, with the same random affine parameters."""
    ours = BatchNorm2d(num_features, dtype=torch.float64, **kwargs)
    ref = nn.BatchNorm2d(num_features, dtype=torch.float64, **kwargs)
    if ref.affine:
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            ref.weight.copy_(torch.randn(num_features, generator=generator, dtype=torch.float64))
            ref.bias.copy_(torch.randn(num_features, generator=generator, dtype=torch.float64))
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def assert_close(a: torch.Tensor | None, b: torch.Tensor | None, what: str) -> None:
    """Both None, or equal to TOL."""
    assert (a is None) == (b is None), what
    if a is not None:
        assert a.shape == b.shape, what
        err = (a.double() - b.double()).abs().max().item() if a.numel() else 0.0
        assert err < TOL, f"{what}: max error {err:.3g}"


def step(module: nn.Module, x: torch.Tensor, upstream: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward + backward of <out, upstream>; returns (out, dL/dx)."""
    x = x.clone().requires_grad_(True)
    out = module(x)
    (out * upstream).sum().backward()
    return out.detach(), x.grad


def compare_state(ours: BatchNorm2d, ref: nn.BatchNorm2d, what: str) -> None:
    """Same parameters, gradients and buffers."""
    assert_close(ours.weight, ref.weight, f"{what} weight")
    assert_close(ours.bias, ref.bias, f"{what} bias")
    if ref.affine:
        assert_close(ours.weight.grad, ref.weight.grad, f"{what} weight.grad")
        assert_close(ours.bias.grad, ref.bias.grad, f"{what} bias.grad")
    assert_close(ours.running_mean, ref.running_mean, f"{what} running_mean")
    assert_close(ours.running_var, ref.running_var, f"{what} running_var")
    assert_close(ours.num_batches_tracked, ref.num_batches_tracked, f"{what} num_batches_tracked")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_batchnorm_matches_torch_over_train_steps_then_eval(seed: int, shape: tuple, config: dict) -> None:
    torch.manual_seed(seed)
    ours, ref = pair(shape[1], seed, **config)
    for t in range(4):
        # shifted, scaled inputs so the running stats really move away from (0, 1)
        x = torch.randn(shape, dtype=torch.float64) * (1 + t) + 3 * t
        upstream = torch.randn(shape, dtype=torch.float64)
        for module in (ours, ref):
            module.zero_grad()
        out_ours, grad_ours = step(ours, x, upstream)
        out_ref, grad_ref = step(ref, x, upstream)
        assert_close(out_ours, out_ref, f"train step {t} output")
        assert_close(grad_ours, grad_ref, f"train step {t} input grad")
        compare_state(ours, ref, f"train step {t}")
    ours.eval()
    ref.eval()
    x = torch.randn(shape, dtype=torch.float64) + 1
    upstream = torch.randn(shape, dtype=torch.float64)
    for module in (ours, ref):
        module.zero_grad()
    out_ours, grad_ours = step(ours, x, upstream)
    out_ref, grad_ref = step(ref, x, upstream)
    assert_close(out_ours, out_ref, "eval output")
    assert_close(grad_ours, grad_ref, "eval input grad")
    compare_state(ours, ref, "eval")


def test_running_var_uses_unbiased_and_output_uses_biased_variance() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 6.0], dtype=torch.float64).reshape(4, 1, 1, 1)
    bn = BatchNorm2d(1, momentum=1.0, eps=0.0, affine=False, dtype=torch.float64)
    out = bn(x)
    assert bn.running_mean.item() == pytest.approx(3.0)
    assert bn.running_var.item() == pytest.approx(14.0 / 3.0)  # sum of squared deviations 14, over n - 1 = 3
    assert out.flatten().tolist() == pytest.approx([(v - 3.0) / (14.0 / 4.0) ** 0.5 for v in (1, 2, 3, 6)])


def test_cumulative_average_when_momentum_is_none() -> None:
    bn = BatchNorm2d(1, momentum=None, affine=False, dtype=torch.float64)
    for value in (2.0, 4.0, 9.0):
        bn(torch.tensor([value - 1, value + 1], dtype=torch.float64).reshape(2, 1, 1, 1))
    assert bn.num_batches_tracked.item() == 3
    assert bn.running_mean.item() == pytest.approx(5.0)  # plain mean of the 3 batch means
    assert bn.running_var.item() == pytest.approx(2.0)  # each batch's unbiased variance is 2


def test_state_dict_loads_both_ways() -> None:
    torch.manual_seed(0)
    ref = nn.BatchNorm2d(5)
    ref(torch.randn(6, 5, 4, 4) * 2 + 1)
    ours = BatchNorm2d(5)
    ours.load_state_dict(ref.state_dict())
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours(torch.randn(6, 5, 4, 4) - 3)
    back = nn.BatchNorm2d(5)
    back.load_state_dict(ours.state_dict())
    for name, value in ours.state_dict().items():
        assert torch.equal(back.state_dict()[name], value), name
    for kwargs in ({"affine": False}, {"track_running_stats": False}):
        assert list(BatchNorm2d(3, **kwargs).state_dict()) == list(nn.BatchNorm2d(3, **kwargs).state_dict())


def test_resets_and_repr_match_torch() -> None:
    ours, ref = BatchNorm2d(3, momentum=None), nn.BatchNorm2d(3, momentum=None)
    ours(torch.randn(4, 3, 2, 2) + 5)
    with torch.no_grad():
        ours.weight.fill_(3.0)
    ours.reset_running_stats()
    assert ours.running_mean.abs().max() == 0 and torch.all(ours.running_var == 1) and ours.num_batches_tracked == 0
    assert torch.all(ours.weight == 3.0)
    ours.reset_parameters()
    assert torch.all(ours.weight == 1.0) and torch.all(ours.bias == 0.0)
    assert repr(ours).replace("bias=True, ", "") == repr(ref).replace("bias=True, ", "")


def test_bias_false_scales_without_shifting_like_torch() -> None:
    ours = BatchNorm2d(3, dtype=torch.float64, bias=False)
    ref = nn.BatchNorm2d(3, dtype=torch.float64)  # its beta stays 0: the same map without beta
    assert ours.bias is None and [name for name, _ in ours.named_parameters()] == ["weight"]
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64) * 2 + 1
    assert_close(ours(x), ref(x), "output without beta")
    assert list(ours.state_dict()) == [name for name in ref.state_dict() if name != "bias"]
    if "bias" in inspect.signature(nn.BatchNorm2d).parameters:  # newer torch has the same keyword
        assert repr(ours) == repr(nn.BatchNorm2d(3, bias=False))


def test_device_and_dtype_arguments() -> None:
    bn = BatchNorm2d(2, device="cpu", dtype=torch.float64)
    assert bn.weight.dtype == torch.float64 and bn.running_var.dtype == torch.float64
    assert bn.num_batches_tracked.dtype == torch.long


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4, 4, 4)])
def test_wrong_input_dims_give_a_clear_error(shape: tuple) -> None:
    with pytest.raises(ValueError, match="4D input"):
        BatchNorm2d(shape[1])(torch.randn(shape))


def test_wrong_channel_count_gives_a_clear_error() -> None:
    with pytest.raises(ValueError, match="num_features=5"):
        BatchNorm2d(3)(torch.randn(2, 5, 4, 4))


@pytest.mark.parametrize("track_running_stats", [True, False])
def test_single_value_per_channel_is_refused_like_torch(track_running_stats: bool) -> None:
    x = torch.randn(1, 3, 1, 1)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm2d(3, track_running_stats=track_running_stats)(x)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm2d(3, track_running_stats=track_running_stats)(x)


def test_eval_with_running_stats_accepts_a_single_pixel() -> None:
    ours, ref = pair(3, 0)
    x = torch.randn(1, 3, 1, 1, dtype=torch.float64)
    assert_close(ours.eval()(x), ref.eval()(x), "single pixel eval")


@pytest.mark.parametrize("seed", [0, 1])
def test_functional_norms_match_torch(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 6, 5, 7, generator=generator, dtype=torch.float64) * 2 + 1
    w = torch.randn(6, generator=generator, dtype=torch.float64)
    b = torch.randn(6, generator=generator, dtype=torch.float64)
    assert_close(batch_norm(x, w, b), F.batch_norm(x, None, None, w, b, training=True), "batch_norm")
    assert_close(instance_norm(x, w, b), F.instance_norm(x, weight=w, bias=b), "instance_norm")
    assert_close(instance_norm(x), F.instance_norm(x), "instance_norm without affine")
    for groups in (1, 2, 3, 6):
        assert_close(group_norm(x, groups, w, b), F.group_norm(x, groups, w, b), f"group_norm G={groups}")
    shape = x.shape[1:]
    lw = torch.randn(shape, generator=generator, dtype=torch.float64)
    lb = torch.randn(shape, generator=generator, dtype=torch.float64)
    assert_close(layer_norm(x, shape, lw, lb), F.layer_norm(x, shape, lw, lb), "layer_norm (C, H, W)")
    assert_close(layer_norm(x, shape[-1:]), F.layer_norm(x, shape[-1:]), "layer_norm (W,)")


def test_group_norm_spans_instance_and_layer_norm() -> None:
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    assert_close(group_norm(x, 4), instance_norm(x), "one channel per group = instance norm")
    assert_close(group_norm(x, 1), layer_norm(x, x.shape[1:]), "one group = layer norm")
    assert_close(normalize(x, (0, 2, 3)), batch_norm(x), "batch norm = normalize over (N, H, W)")


def test_functional_norm_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="must divide the 6 channels"):
        group_norm(torch.randn(2, 6, 3, 3), 4)
    with pytest.raises(ValueError, match="normalized_shape"):
        layer_norm(torch.randn(2, 6, 3, 3), (4, 3))

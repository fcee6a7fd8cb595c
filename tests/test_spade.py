"""Tests for spade_lesson.layers.spade: shapes, the plain-norm special case, segmap resizing, official parity."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.layers.onehot import SegMap
from spade_lesson.layers.spade import SPADE

REFERENCE = Path(__file__).parent / "data" / "official_spade_facades_small.pt"


def _segmap(n: int, classes: int, size: int, seed: int = 0) -> torch.Tensor:
    """A random one-hot map (n, classes, size, size)."""
    generator = torch.Generator().manual_seed(seed)
    label = torch.randint(classes, (n, size, size), generator=generator)
    return F.one_hot(label, classes).permute(0, 3, 1, 2).float()


@pytest.mark.parametrize("kind", ["batch", "instance", "syncbatch"])
def test_output_shape_and_norm_kind(kind: str) -> None:
    spade = SPADE(norm_nc=6, label_nc=4, hidden=16, param_free_norm=kind)
    out = spade(torch.randn(2, 6, 8, 8), _segmap(2, 4, 8))
    assert out.shape == (2, 6, 8, 8)
    expected = {"batch": nn.BatchNorm2d, "instance": nn.InstanceNorm2d, "syncbatch": nn.SyncBatchNorm}[kind]
    assert type(spade.param_free_norm) is expected
    assert not spade.param_free_norm.affine


def test_kernel_size_sets_every_conv() -> None:
    spade = SPADE(norm_nc=3, label_nc=2, kernel_size=5)
    convs = [spade.mlp_shared[0], spade.mlp_gamma, spade.mlp_beta]
    assert [conv.kernel_size for conv in convs] == [(5, 5)] * 3
    assert spade(torch.randn(1, 3, 7, 7), _segmap(1, 2, 7)).shape == (1, 3, 7, 7)


def test_zero_gamma_beta_gives_the_plain_norm() -> None:
    torch.manual_seed(0)
    spade = SPADE(norm_nc=5, label_nc=3, hidden=8, param_free_norm="instance")
    for conv in (spade.mlp_gamma, spade.mlp_beta):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    x = torch.randn(2, 5, 6, 6) * 3 + 1
    plain = nn.InstanceNorm2d(5, affine=False)(x)
    assert torch.allclose(spade(x, _segmap(2, 3, 6)), plain, atol=1e-6)


def test_segmap_is_resized_with_nearest() -> None:
    torch.manual_seed(0)
    spade = SPADE(norm_nc=4, label_nc=3, hidden=8, param_free_norm="instance")
    x = torch.randn(1, 4, 8, 8)
    small = _segmap(1, 3, 4, seed=1)
    big = small.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # nearest 2x upsampling by hand
    assert torch.allclose(spade(x, small), spade(x, big), atol=1e-6)
    assert spade(x, _segmap(1, 3, 32)).shape == (1, 4, 8, 8)


def test_bad_param_free_norm_names_the_choices() -> None:
    with pytest.raises(ValueError, match="batch, instance, syncbatch"):
        SPADE(norm_nc=4, label_nc=3, param_free_norm="layer")


def test_official_weights_load_by_name_and_match_the_paper_formula() -> None:
    reference = torch.load(REFERENCE, weights_only=True)
    prefix = "up_0.norm_1."
    state = {key[len(prefix):]: value for key, value in reference["G_state_dict"].items() if key.startswith(prefix)}
    norm_nc = state["mlp_gamma.weight"].shape[0]
    label_nc = reference["options"]["semantic_nc"]
    spade = SPADE(norm_nc=norm_nc, label_nc=label_nc).eval()
    spade.load_state_dict(state, strict=True)
    torch.manual_seed(0)
    x = torch.randn(2, norm_nc, 16, 16)
    segmap = F.one_hot(reference["inputs"]["label"], label_nc).permute(0, 3, 1, 2).float()
    # An independent, functional reading of Eq. (1) with the checkpoint's tensors.
    normalized = (x - state["param_free_norm.running_mean"][:, None, None]) / torch.sqrt(
        state["param_free_norm.running_var"][:, None, None] + 1e-5)
    small = segmap[:, :, ::4, ::4]
    hidden = F.relu(F.conv2d(small, state["mlp_shared.0.weight"], state["mlp_shared.0.bias"], padding=1))
    gamma = F.conv2d(hidden, state["mlp_gamma.weight"], state["mlp_gamma.bias"], padding=1)
    beta = F.conv2d(hidden, state["mlp_beta.weight"], state["mlp_beta.bias"], padding=1)
    expected = normalized * (1 + gamma) + beta
    assert (spade(x, segmap) - expected).abs().max().item() < 1e-5


@pytest.mark.usefixtures("lookups_always")  # tests/conftest.py
def test_a_segmap_gives_the_one_hot_maps_result_and_gradients() -> None:
    torch.manual_seed(0)
    spade = SPADE(norm_nc=6, label_nc=5, hidden=16).double()
    label = torch.randint(5, (2, 32, 32))
    segmap = SegMap.from_labels(label, 5)
    x = torch.randn(2, 6, 16, 16, dtype=torch.float64)  # the map is resized to x's 16 x 16 first
    results = []
    for semantic in (segmap.dense(torch.float64), segmap):
        spade.zero_grad()
        out = spade(x, semantic)
        out.square().sum().backward()
        results.append([out] + [parameter.grad.clone() for parameter in spade.parameters()])
    for lookup, plain in zip(results[1], results[0]):
        torch.testing.assert_close(lookup, plain, rtol=1e-9, atol=1e-9)


def test_the_layer_a_learner_reads_is_the_papers_on_a_dense_map() -> None:
    source = inspect.getsource(SPADE)
    assert "normalized * (1 + gamma) + beta" in source
    for speed_up in ("SegMap", "resized", "OneHotConv2d", "lookup"):
        assert speed_up not in source, f"SPADE's class names the one-hot speed-up ({speed_up})"

"""Tests for spade_lesson.layers.blocks: norm_layer against torch's own layers, maybe_spectral, conv_norm."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spade_lesson.layers.blocks import conv_norm, maybe_spectral, norm_layer


@pytest.mark.parametrize(("kind", "reference"), [
    ("batch", lambda affine: nn.BatchNorm2d(6, affine=affine)),
    ("instance", lambda affine: nn.InstanceNorm2d(6, affine=affine)),
    ("layer", lambda affine: nn.GroupNorm(1, 6, affine=affine)),
    ("group", lambda affine: nn.GroupNorm(3, 6, affine=affine)),
])
@pytest.mark.parametrize("affine", [False, True])
def test_norm_layer_computes_what_torchs_layer_computes(kind: str, reference, affine: bool) -> None:
    ours, theirs = norm_layer(kind, 6, affine=affine, num_groups=3), reference(affine)
    assert type(ours) is type(theirs) and len(list(ours.parameters())) == (2 if affine else 0)
    x = torch.randn(2, 6, 5, 5, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ours(x), theirs(x))


def test_norm_layer_none_syncbatch_and_choices() -> None:
    x = torch.randn(2, 4, 3, 3)
    assert torch.equal(norm_layer("none", 4, affine=False)(x), x)
    sync = norm_layer("syncbatch", 4, affine=True)
    assert isinstance(sync, nn.SyncBatchNorm) and sync.affine
    with pytest.raises(ValueError, match="param_free_norm='layer' is not known: use one of batch, instance$"):
        norm_layer("layer", 4, affine=False, choices=("batch", "instance"), argument="param_free_norm")
    with pytest.raises(ValueError, match="needs num_groups"):
        norm_layer("group", 4, affine=False)


def test_maybe_spectral_uses_the_official_key_names() -> None:
    assert set(maybe_spectral(nn.Conv2d(2, 3, 3), spectral=True).state_dict()) == {
        "weight_orig", "weight_u", "weight_v", "bias"}
    assert set(maybe_spectral(nn.Conv2d(2, 3, 3), spectral=False).state_dict()) == {"weight", "bias"}


def test_conv_norm_variants() -> None:
    batch = conv_norm(nn.Conv2d(3, 4, 3), spectral=False, norm="batch")
    assert isinstance(batch[1], nn.BatchNorm2d) and batch[1].affine and batch[0].bias is None
    instance = conv_norm(nn.Conv2d(3, 4, 3), norm="instance")
    assert isinstance(instance[1], nn.InstanceNorm2d) and not instance[1].affine
    assert set(instance.state_dict()) == {"0.weight_orig", "0.weight_u", "0.weight_v"}  # official norm_D keys
    bare = conv_norm(nn.Conv2d(3, 4, 3), spectral=False, norm="none")
    assert isinstance(bare, nn.Conv2d) and bare.bias is not None
    with pytest.raises(ValueError, match="norm='group' is not known: use one of instance, batch, syncbatch, none"):
        conv_norm(nn.Conv2d(3, 4, 3), norm="group")

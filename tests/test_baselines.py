"""Tests for spade_lesson.models.baselines: the plain-norm decoder, its label-map-at-input-only design, the width
match."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.layers.counting import count_parameters
from spade_lesson.layers.onehot import SegMap
from spade_lesson.models.baselines import BaselineGenerator, BaselineResnetBlock, matching_ngf
from spade_lesson.models.generator import SPADEGenerator


def _semantic(n: int, classes: int, size: int) -> torch.Tensor:
    """A random one-hot map (n, classes, size, size)."""
    label = torch.randint(classes, (n, size, size), generator=torch.Generator().manual_seed(0))
    return F.one_hot(label, classes).permute(0, 3, 1, 2).float()


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_same_decoder_shapes_with_affine_norms(norm: str) -> None:
    baseline = BaselineGenerator(semantic_nc=5, ngf=2, crop_size=64, norm=norm)
    image = baseline(_semantic(2, 5, 64))
    assert image.shape == (2, 3, 64, 64) and image.abs().max() <= 1
    norms = [module for module in baseline.modules() if isinstance(module, (nn.BatchNorm2d, nn.InstanceNorm2d))]
    assert norms and all(module.affine for module in norms)
    spade = SPADEGenerator(semantic_nc=5, ngf=2, crop_size=64, spade_hidden=4)
    encoder = [f"down_{level}" for level in range(5)]  # 64 -> 2 pixels: the decoder's 5 doublings undone
    assert [name for name, _ in baseline.named_children()] == ["fc", *encoder] + [
        name for name, _ in spade.named_children() if name != "fc"]
    assert [baseline.get_submodule(name)[2].out_channels for name in encoder] == [4, 8, 16, 32, 32]


@pytest.mark.slow
def test_a_detail_smaller_than_the_start_map_reaches_the_output() -> None:
    baseline = BaselineGenerator(semantic_nc=5, ngf=2, crop_size=64).eval()
    label = torch.zeros(1, 64, 64, dtype=torch.long)
    dotted = label.clone()
    dotted[0, 5, 5] = 3  # one pixel; the decoder starts from a 2 x 2 map
    as_one_hot = [F.one_hot(map_, 5).permute(0, 3, 1, 2).float() for map_ in (label, dotted)]
    with torch.no_grad():
        assert (baseline(as_one_hot[0]) - baseline(as_one_hot[1])).abs().max() > 1e-3


@pytest.mark.slow
def test_a_crop_that_does_not_halve_evenly_still_reaches_the_start_size() -> None:
    baseline = BaselineGenerator(semantic_nc=5, ngf=2, crop_size=80)  # 80 -> 40 -> 20 -> 10 -> 5 -> 3, start is 2
    spade = SPADEGenerator(semantic_nc=5, ngf=2, crop_size=80, spade_hidden=4)
    assert baseline(_semantic(1, 5, 80)).shape == spade(_semantic(1, 5, 80)).shape == (1, 3, 64, 64)


@pytest.mark.slow
def test_label_map_enters_only_the_first_layer() -> None:
    baseline = BaselineGenerator(semantic_nc=5, ngf=2, crop_size=64)
    takes_labels = [name for name, module in baseline.named_modules()
                    if isinstance(module, nn.Conv2d) and module.in_channels == 5]
    assert takes_labels == ["fc"]
    seen = []
    baseline.head_0.register_forward_pre_hook(lambda module, args: seen.append(len(args)))
    baseline(_semantic(1, 5, 64))
    assert seen == [1]


def test_resblock_shortcut_and_bad_norm() -> None:
    block = BaselineResnetBlock(8, 4, norm="instance", spectral=False)
    assert block.conv_s.bias is None and block.conv_0.out_channels == 4
    assert block(torch.randn(2, 8, 5, 5)).shape == (2, 4, 5, 5)
    assert not hasattr(BaselineResnetBlock(4, 4), "conv_s")
    with pytest.raises(ValueError, match="batch, instance"):
        BaselineResnetBlock(4, 4, norm="spade")


def _count_on_meta(build: type[nn.Module], **arguments: object) -> int:
    """Parameter count of a network built on the meta device (no memory, no init)."""
    with torch.device("meta"):
        return count_parameters(build(**arguments))


@pytest.mark.slow
@pytest.mark.parametrize("config", [
    {"semantic_nc": 12, "ngf": 16, "crop_size": 128},
    {"semantic_nc": 12, "ngf": 8, "crop_size": 64, "num_upsampling_layers": "more"},
    {"semantic_nc": 36, "ngf": 32, "crop_size": 256, "aspect_ratio": 2.0},
])
def test_matching_ngf_is_within_ten_percent_of_the_spade_generator(config: dict) -> None:
    ngf = matching_ngf(**config)
    spade = _count_on_meta(SPADEGenerator, **config)
    baseline_config = {**config, "ngf": ngf}
    baseline = _count_on_meta(BaselineGenerator, **baseline_config)
    assert ngf > config["ngf"]  # SPADE's per-layer label MLPs cost parameters the baseline spends on width
    assert abs(baseline - spade) / spade < 0.10
    for neighbour in (ngf - 1, ngf + 1):
        assert abs(_count_on_meta(BaselineGenerator, **{**config, "ngf": neighbour}) - spade) >= abs(baseline - spade)


@pytest.mark.usefixtures("lookups_always")  # tests/conftest.py
@pytest.mark.slow
def test_a_segmap_gives_the_one_hot_maps_image() -> None:
    torch.manual_seed(0)
    generator = BaselineGenerator(semantic_nc=5, ngf=4, crop_size=64, spectral=False).double()
    label = torch.randint(5, (2, 64, 64))
    segmap = SegMap.from_labels(label, 5)
    torch.testing.assert_close(generator(segmap), generator(segmap.dense(torch.float64)), rtol=1e-9, atol=1e-9)

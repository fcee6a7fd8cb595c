"""Tests for spade_lesson.models.generator: the SPADE ResBlk and the generator's shapes, names, z handling."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.data import instance_edges
from spade_lesson.layers.onehot import SegMap
from spade_lesson.models.generator import SPADEGenerator, SPADEResnetBlock, decoder_plan, latent_size

SMALL = {"ngf": 2, "spade_hidden": 8}


def _semantic(n: int, classes: int, height: int, width: int) -> torch.Tensor:
    """A random one-hot map (n, classes, height, width)."""
    label = torch.randint(classes, (n, height, width), generator=torch.Generator().manual_seed(0))
    return F.one_hot(label, classes).permute(0, 3, 1, 2).float()


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "crop_size", "start"), [("normal", 64, 2), ("more", 128, 2), ("most", 256, 2)])
def test_output_shapes_and_official_block_names(mode: str, crop_size: int, start: int) -> None:
    generator = SPADEGenerator(semantic_nc=5, num_upsampling_layers=mode, crop_size=crop_size, **SMALL)
    assert (generator.start_height, generator.start_width) == (start, start)
    image = generator(_semantic(2, 5, 32, 32))
    assert image.shape == (2, 3, crop_size, crop_size)
    assert generator.output_size == (crop_size, crop_size)
    assert image.abs().max() <= 1
    names = {name for name, _ in generator.named_children()}
    expected = {"fc", "head_0", "G_middle_0", "G_middle_1", "up_0", "up_1", "up_2", "up_3", "conv_img"}
    assert names == (expected | {"up_4"} if mode == "most" else expected)


def test_most_adds_a_half_width_block() -> None:
    generator = SPADEGenerator(semantic_nc=3, num_upsampling_layers="most", crop_size=128, ngf=4, spade_hidden=8)
    assert generator.up_4.conv_1.out_channels == 2
    assert generator.conv_img.in_channels == 2


def test_aspect_ratio_two_gives_wide_images() -> None:
    generator = SPADEGenerator(semantic_nc=4, crop_size=64, aspect_ratio=2.0, **SMALL)
    assert generator(_semantic(1, 4, 32, 64)).shape == (1, 3, 32, 64)
    assert latent_size(512, 2.0, "normal") == (8, 16)


@pytest.mark.slow
def test_label_map_input_starts_from_a_conv_on_the_downsampled_map() -> None:
    generator = SPADEGenerator(semantic_nc=4, crop_size=64, **SMALL)
    assert isinstance(generator.fc, nn.Conv2d) and generator.fc.in_channels == 4
    semantic = _semantic(2, 4, 64, 64)
    generator.eval()
    assert torch.equal(generator(semantic), generator(semantic))


@pytest.mark.slow
def test_vae_path_samples_z_when_none_and_uses_the_given_z() -> None:
    torch.manual_seed(0)
    generator = SPADEGenerator(semantic_nc=4, crop_size=64, use_vae=True, z_dim=16, **SMALL).eval()
    assert isinstance(generator.fc, nn.Linear)
    assert generator.fc.out_features == 16 * 2 * 2 * 2
    semantic = _semantic(2, 4, 64, 64)
    z = torch.randn(2, 16)
    assert torch.equal(generator(semantic, z), generator(semantic, z))
    assert not torch.allclose(generator(semantic), generator(semantic))
    assert generator(semantic).shape == (2, 3, 64, 64)


def test_z_errors_are_clear() -> None:
    vae = SPADEGenerator(semantic_nc=4, crop_size=64, use_vae=True, z_dim=16, **SMALL)
    with pytest.raises(ValueError, match=r"expected \(batch, z_dim\) = \(1, 16\)"):
        vae(_semantic(1, 4, 64, 64), torch.randn(1, 8))
    plain = SPADEGenerator(semantic_nc=4, crop_size=64, **SMALL)
    with pytest.raises(ValueError, match="use_vae=False"):
        plain(_semantic(1, 4, 64, 64), torch.randn(1, 256))


def test_bad_arguments_are_clear() -> None:
    with pytest.raises(ValueError, match="normal, more, most"):
        SPADEGenerator(semantic_nc=4, num_upsampling_layers="many")
    with pytest.raises(ValueError, match="crop_size >= 128"):
        SPADEGenerator(semantic_nc=4, crop_size=64, num_upsampling_layers="most")
    generator = SPADEGenerator(semantic_nc=4, crop_size=64, **SMALL)
    with pytest.raises(ValueError, match=r"expected \(N, 4, H, W\)"):
        generator(_semantic(1, 3, 64, 64))


def test_decoder_plan_doubles_size_as_the_official_schedule() -> None:
    for mode, doublings in (("normal", 5), ("more", 6), ("most", 7)):
        assert sum(block.upsample for block in decoder_plan(64, mode)) == doublings
    widths = [(block.in_channels, block.out_channels) for block in decoder_plan(64, "normal")]
    assert widths == [(1024, 1024)] * 3 + [(1024, 512), (512, 256), (256, 128), (128, 64)]


def test_resblock_learned_shortcut_only_when_width_changes() -> None:
    same = SPADEResnetBlock(8, 8, semantic_nc=3, spade_hidden=4)
    assert not hasattr(same, "conv_s") and not hasattr(same, "norm_s")
    changing = SPADEResnetBlock(8, 4, semantic_nc=3, spade_hidden=4)
    assert changing.conv_0.out_channels == 4  # fmiddle = min(fin, fout)
    assert changing.conv_s.kernel_size == (1, 1) and changing.conv_s.bias is None
    assert changing.norm_s.mlp_gamma.out_channels == 8
    assert changing(torch.randn(2, 8, 6, 6), _semantic(2, 3, 6, 6)).shape == (2, 4, 6, 6)


def test_resblock_spectral_norm_uses_the_official_keys() -> None:
    spectral = SPADEResnetBlock(4, 2, semantic_nc=3, spade_hidden=4).state_dict()
    assert {"conv_0.weight_orig", "conv_0.weight_u", "conv_0.weight_v", "conv_s.weight_orig"} <= set(spectral)
    plain = SPADEResnetBlock(4, 2, semantic_nc=3, spade_hidden=4, spectral=False).state_dict()
    assert "conv_0.weight" in plain and "conv_0.weight_orig" not in plain


def test_resblock_with_zero_residual_branch_is_the_identity() -> None:
    block = SPADEResnetBlock(6, 6, semantic_nc=3, spade_hidden=4, spectral=False, param_free_norm="instance")
    nn.init.zeros_(block.conv_1.weight)
    nn.init.zeros_(block.conv_1.bias)
    x = torch.randn(2, 6, 5, 5)
    assert torch.equal(block(x, _semantic(2, 3, 5, 5)), x)


@pytest.mark.slow
def test_resblock_matches_its_definition() -> None:
    torch.manual_seed(0)
    block = SPADEResnetBlock(6, 3, semantic_nc=3, spade_hidden=4, spectral=False, param_free_norm="instance")
    x, segmap = torch.randn(2, 6, 5, 5), _semantic(2, 3, 5, 5)
    residual = block.conv_1(F.leaky_relu(block.norm_1(block.conv_0(F.leaky_relu(block.norm_0(x, segmap), 0.2)),
                                                      segmap), 0.2))
    expected = block.conv_s(block.norm_s(x, segmap)) + residual
    assert torch.allclose(block(x, segmap), expected, atol=1e-6)


@pytest.mark.usefixtures("lookups_always")  # tests/conftest.py
@pytest.mark.slow
def test_a_segmap_gives_the_one_hot_maps_image_and_gradients() -> None:
    label = torch.randint(6, (2, 64, 64), generator=torch.Generator().manual_seed(1))
    label[0, :5] = 255  # don't care: all-zero one-hot vectors
    edges = instance_edges(label % 4).double()  # a dense extra channel after the one-hot ones, as official inputs
    segmap = SegMap.from_labels(label, 6).with_extra(edges)
    torch.manual_seed(0)
    generator = SPADEGenerator(7, crop_size=64, **SMALL).double()
    outputs, grads = [], []
    twins = [generator, copy.deepcopy(generator)]  # the same spectral-norm vectors u for both (a forward updates them)
    for generator, semantic in zip(twins, (segmap.dense(), segmap)):
        image = generator(semantic)
        image.square().sum().backward()
        outputs.append(image)
        grads.append([parameter.grad.clone() for parameter in generator.parameters()])
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-9, atol=1e-9)
    for lookup, plain in zip(*grads[::-1]):
        torch.testing.assert_close(lookup, plain, rtol=1e-9, atol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("lookup", [False, True])
def test_the_label_map_is_resized_once_per_resolution(monkeypatch: pytest.MonkeyPatch, lookup: bool) -> None:
    interpolate, sizes = F.interpolate, []

    def counting(input: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if isinstance(input, SegMap):  # the SegMap's own F.interpolate: its kept resize, which counts its ids below
            return input.resized(kwargs["size"])
        size = tuple(kwargs.get("size") or ())
        if input.shape[1] == (1 if lookup else 5) and size != tuple(input.shape[2:]):  # ids or one-hot, resized
            sizes.append(size)
        return interpolate(input, *args, **kwargs)

    monkeypatch.setattr(F, "interpolate", counting)
    label = torch.randint(5, (2, 64, 64), generator=torch.Generator().manual_seed(0))
    semantic = SegMap.from_labels(label, 5) if lookup else F.one_hot(label, 5).permute(0, 3, 1, 2).float()
    SPADEGenerator(5, crop_size=64, **SMALL)(semantic)
    assert sizes == [(2, 2), (4, 4), (8, 8), (16, 16), (32, 32)]  # not once per SPADE layer (19 times)

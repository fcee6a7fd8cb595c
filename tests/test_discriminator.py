"""Tests for spade_lesson.models.discriminator: per-scale feature lists, the pooling between scales."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from spade_lesson.data import one_hot
from spade_lesson.layers.onehot import SegMap
from spade_lesson.models.discriminator import MultiscaleDiscriminator, NLayerDiscriminator, check_depth


def test_every_scale_returns_every_feature_with_logits_last() -> None:
    discriminator = MultiscaleDiscriminator(in_channels=7, num_D=3, n_layers_D=4, ndf=4)
    outputs = discriminator(torch.randn(2, 7, 64, 64))
    assert len(outputs) == 3
    assert [[tuple(f.shape[1:]) for f in scale] for scale in outputs][0] == [
        (4, 33, 33), (8, 17, 17), (16, 9, 9), (32, 10, 10), (1, 11, 11)]
    assert [scale[-1].shape for scale in outputs] == [(2, 1, 11, 11), (2, 1, 7, 7), (2, 1, 5, 5)]
    assert [len(scale) for scale in outputs] == [5, 5, 5]


def test_without_intermediate_features_only_logits() -> None:
    discriminator = MultiscaleDiscriminator(in_channels=4, num_D=2, n_layers_D=3, ndf=4,
                                            get_intermediate_features=False)
    outputs = discriminator(torch.randn(1, 4, 32, 32))
    assert [len(scale) for scale in outputs] == [1, 1]
    assert outputs[0][0].shape[1] == 1


def test_coarser_scale_sees_the_average_pooled_input_with_padding_not_counted() -> None:
    discriminator = MultiscaleDiscriminator(in_channels=2, num_D=2, n_layers_D=2, ndf=4)
    seen = []
    discriminator.discriminator_1.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    discriminator(torch.ones(1, 2, 16, 16))
    assert seen[0].shape == (1, 2, 8, 8)
    assert torch.equal(seen[0], torch.ones(1, 2, 8, 8))  # counting the zero padding would darken the border
    x = torch.randn(1, 2, 16, 16)
    discriminator(x)
    corner = x[0, :, :2, :2].mean(dim=(1, 2))  # the top-left window covers a 2 x 2 block of real pixels
    assert torch.allclose(seen[1][0, :, 0, 0], corner, atol=1e-6)


def test_width_doubles_and_caps_at_512() -> None:
    discriminator = NLayerDiscriminator(in_channels=3, n_layers_D=3, ndf=256)
    assert [discriminator.model1[0][0].out_channels, discriminator.model2[0][0].out_channels] == [512, 512]


def test_spectral_instance_layers_drop_the_conv_bias_and_use_official_keys() -> None:
    keys = set(NLayerDiscriminator(in_channels=3, n_layers_D=2, ndf=4).state_dict())
    assert keys == {"model0.0.weight", "model0.0.bias", "model1.0.0.weight_orig", "model1.0.0.weight_u",
                    "model1.0.0.weight_v", "model2.0.weight", "model2.0.bias"}


def test_wrong_input_channels_are_clear() -> None:
    discriminator = MultiscaleDiscriminator(in_channels=5, ndf=4)
    with pytest.raises(ValueError, match=r"expected \(N, 5, H, W\)"):
        discriminator(torch.randn(1, 4, 32, 32))


def test_patch_logits_depend_on_the_label_map() -> None:
    torch.manual_seed(0)
    discriminator = MultiscaleDiscriminator(in_channels=5, num_D=1, n_layers_D=2, ndf=4).eval()
    image = torch.rand(1, 3, 16, 16) * 2 - 1
    label_a = F.one_hot(torch.zeros(1, 16, 16, dtype=torch.long), 2).permute(0, 3, 1, 2).float()
    label_b = 1 - label_a
    logits_a = discriminator(torch.cat([label_a, image], 1))[0][-1]
    logits_b = discriminator(torch.cat([label_b, image], 1))[0][-1]
    assert not torch.allclose(logits_a, logits_b)


@pytest.mark.slow
@pytest.mark.parametrize("size", [(32, 32), (48, 48), (64, 64)])
def test_check_depth_refuses_exactly_the_num_D_that_torch_cannot_run(size):
    for num_D in range(1, 9):
        discriminator = MultiscaleDiscriminator(4, num_D=num_D, n_layers_D=3, ndf=2)
        try:
            discriminator(torch.zeros(2, 4, *size))
            runs = True
        except ValueError:  # InstanceNorm: "Expected more than 1 spatial element when training"
            runs = False
        try:
            check_depth(size, num_D, n_layers_D=3)
            allowed = True
        except ValueError as error:
            assert "\n" not in str(error) and "--num-D" in str(error)
            allowed = False
        assert allowed == runs, (size, num_D)


def test_check_depth_names_the_deepest_patchgan_whose_layers_still_shrink_the_map():
    check_depth((32, 32), num_D=1, n_layers_D=6)  # 32 -> 17 -> 9 -> 5 -> 3 -> 2: five stride-2 layers
    with pytest.raises(ValueError, match=r"n_layers_D=7 \(--n-layers-D\) is too deep for 32x32 .* n_layers_D <= 6"):
        check_depth((32, 32), num_D=1, n_layers_D=7)
    features = NLayerDiscriminator(4, n_layers_D=6, ndf=2)(torch.zeros(1, 4, 32, 32))
    assert [f.shape[-1] for f in features[:5]] == [17, 9, 5, 3, 2]


@pytest.mark.usefixtures("lookups_always")  # tests/conftest.py
@pytest.mark.slow
def test_a_segmap_with_the_image_gives_the_dense_pairs_features_and_gradients() -> None:
    torch.manual_seed(0)
    label = torch.randint(6, (2, 32, 32))
    label[1, 3:9, 4:20] = 255  # don't care: all-zero one-hot vectors
    image = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    images = [image.clone().requires_grad_(), image.clone().requires_grad_()]
    twins = [MultiscaleDiscriminator(in_channels=6 + 3, num_D=2, n_layers_D=3, ndf=4).double()]
    twins.append(copy.deepcopy(twins[0]))  # the same spectral-norm vectors u for both (a forward updates them)
    pairs = [torch.cat([one_hot(label, 6).double(), images[0]], dim=1),
             SegMap.from_labels(label, 6).with_extra(images[1])]
    results = []
    for discriminator, pair, image in zip(twins, pairs, images):
        outputs = discriminator(pair)
        sum(feature.square().sum() for scale in outputs for feature in scale).backward()
        features = [feature for scale in outputs for feature in scale]
        results.append((features, image.grad, [parameter.grad for parameter in discriminator.parameters()]))
    (plain, plain_image, plain_params), (lookup, lookup_image, lookup_params) = results
    for a, b in zip(lookup + [lookup_image] + lookup_params, plain + [plain_image] + plain_params):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)

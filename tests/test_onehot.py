"""spade_lesson.layers.onehot: the lookup conv against F.conv2d on the dense one-hot map, the SegMap against one_hot."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from spade_lesson.data import one_hot
from spade_lesson.layers import onehot
from spade_lesson.layers.onehot import OneHotConv2d, SegMap

# (kernel_size, stride, padding, padding_mode, extra channels): the convs where the networks meet a one-hot map
CONVS = {
    "SPADE mlp_shared": (3, 1, 1, "zeros", 0),
    "probe (reflect)": (3, 1, 1, "reflect", 0),
    "D first conv": (4, 2, 2, "zeros", 4),  # label map, instance edges and the image (3 channels)
    "5x5 same reflect": (5, 1, "same", "reflect", 1),
    "even kernel same": (4, 1, "same", "zeros", 2),
}
TOLERANCE = {torch.float32: {"rtol": 1e-4, "atol": 1e-4}, torch.float64: {"rtol": 1e-10, "atol": 1e-10}}
pytestmark = pytest.mark.usefixtures("lookups_always")  # tests/conftest.py: the lookups at 9 classes too


def random_map(num_classes: int, extra: int, dtype: torch.dtype, seed: int = 0) -> SegMap:
    """Ids with some all-zero (don't-care) pixels; extra dense channels that need gradients."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, num_classes + 1, (2, 11, 13), generator=generator)  # id num_classes = all-zero pixel
    extras = torch.randn(2, extra, 11, 13, dtype=dtype, generator=generator).requires_grad_() if extra else None
    return SegMap(ids, num_classes, extras)


@pytest.mark.parametrize("num_classes", [9, 151, 182])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("conv_name", list(CONVS))
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_lookup_equals_conv_forward_and_backward(num_classes, dtype, conv_name, one_thread):
    kernel_size, stride, padding, padding_mode, extra = CONVS[conv_name]
    torch.manual_seed(num_classes)
    shape = {"in_channels": num_classes + extra, "out_channels": 16, "kernel_size": kernel_size, "stride": stride,
             "padding": padding, "padding_mode": padding_mode}
    plain, lookup = nn.Conv2d(**shape).to(dtype), OneHotConv2d(**shape).to(dtype)
    lookup.load_state_dict(plain.state_dict())
    segmap = random_map(num_classes, extra, dtype)
    dense = segmap.dense(dtype)
    assert dense[:, :num_classes].sum(1).lt(1).any(), "the map should hold all-zero pixels"
    extras = [segmap.extra] if extra else []

    expected = plain(dense)  # torch's own conv on the one-hot tensor
    upstream = torch.randn_like(expected)
    expected_grads = torch.autograd.grad(expected, [plain.weight, plain.bias, *extras], upstream)
    out = lookup(segmap)
    grads = torch.autograd.grad(out, [lookup.weight, lookup.bias, *extras], upstream)

    torch.testing.assert_close(out, expected, **TOLERANCE[dtype])
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, **TOLERANCE[dtype])


def test_dense_input_is_the_plain_conv():
    torch.manual_seed(0)
    conv = OneHotConv2d(12, 8, 3, padding=1)
    x = torch.randn(2, 12, 9, 9)  # not one-hot: the dense path is nn.Conv2d itself
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight, conv.bias, padding=1), rtol=0, atol=0)


def test_parameter_names_and_checkpoints_are_nn_conv2d_ones():
    torch.manual_seed(0)
    plain = nn.Conv2d(10, 4, 3, padding=1)
    lookup = OneHotConv2d(10, 4, 3, padding=1)
    assert list(lookup.state_dict()) == list(plain.state_dict()) == ["weight", "bias"]
    lookup.load_state_dict(plain.state_dict())
    segmap = SegMap(torch.randint(0, 10, (1, 6, 6)), 10)
    torch.testing.assert_close(lookup(segmap), plain(segmap.dense()))


def test_spectral_norm_and_no_bias():
    torch.manual_seed(0)
    conv = spectral_norm(OneHotConv2d(9, 6, 4, stride=2, padding=2, bias=False))
    segmap = SegMap(torch.randint(0, 9, (2, 8, 8)), 9)
    conv.eval()  # no power iteration: both calls see the same normalized weight
    torch.testing.assert_close(conv(segmap), conv(segmap.dense()))


def test_dilation_replicate_and_circular():
    torch.manual_seed(0)
    segmap = random_map(7, 0, torch.float64)
    for mode in ("replicate", "circular"):
        conv = OneHotConv2d(7, 5, 3, padding=2, dilation=2, padding_mode=mode).double()
        torch.testing.assert_close(conv(segmap), conv(segmap.dense(torch.float64)))


@pytest.mark.parametrize("dontcare", [False, True])
def test_from_labels_is_one_hot(dontcare):
    label = torch.randint(0, 5, (2, 7, 6))
    label[0, :2] = 255
    segmap = SegMap.from_labels(label, 5, dontcare=dontcare)
    torch.testing.assert_close(segmap.dense(), one_hot(label, 5, dontcare=dontcare), rtol=0, atol=0)
    with pytest.raises(ValueError, match="class id 7, outside 0..4"):
        SegMap.from_labels(torch.full((1, 2, 2), 7), 5)


@pytest.mark.parametrize("size", [(4, 5), (16, 9), (11, 13), (33, 40)])
def test_resized_is_nearest_interpolation_of_the_one_hot_map(size):
    segmap = random_map(182, 2, torch.float32)
    resized = segmap.resized(size)
    expected = F.interpolate(segmap.dense(), size=size, mode="nearest")
    torch.testing.assert_close(resized.dense(), expected, rtol=0, atol=0)
    assert segmap.resized(size) is resized, "a second resize to the same size is the kept one"
    assert segmap.resized((11, 13)) is segmap


def test_with_extra_and_cat_match_torch_cat():
    segmap = random_map(9, 1, torch.float32)
    image = torch.randn(2, 3, 11, 13)
    pair = SegMap.cat([segmap.with_extra(image), segmap.with_extra(-image)])
    expected = torch.cat([torch.cat([segmap.dense(), image], 1), torch.cat([segmap.dense(), -image], 1)])
    torch.testing.assert_close(pair.dense(), expected, rtol=0, atol=0)
    assert pair.shape == expected.shape
    with pytest.raises(ValueError, match="differ in num_classes"):
        SegMap.cat([segmap, SegMap(segmap.ids, 10)])


def test_bad_inputs_say_what_to_do():
    segmap = SegMap(torch.randint(0, 9, (1, 6, 6)), 9)
    with pytest.raises(ValueError, match="takes 12 input channels, the SegMap has 9"):
        OneHotConv2d(12, 4, 3)(segmap)
    with pytest.raises(ValueError, match="groups=3"):
        OneHotConv2d(9, 3, 3, groups=3)(segmap)
    with pytest.raises(ValueError, match="integer tensor"):
        SegMap(torch.zeros(1, 6, 6), 9)
    with pytest.raises(ValueError, match="smaller than the conv"):
        OneHotConv2d(9, 3, 7)(segmap)


def test_autocast_bf16_on_cpu_matches_the_autocast_conv():
    torch.manual_seed(0)
    conv = OneHotConv2d(151, 32, 3, padding=1)
    segmap = SegMap(torch.randint(0, 151, (2, 16, 16)), 151)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, expected = conv(segmap), conv(segmap.dense())
    assert out.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected.float(), rtol=2e-2, atol=2e-2)
    out.float().sum().backward()
    assert conv.weight.grad.dtype == torch.float32 and torch.isfinite(conv.weight.grad).all()


@pytest.mark.parametrize(("kernel_size", "stride", "padding"), [(3, 2, 1), (2, 2, 0), (3, 1, 1)])
def test_avg_pool2d_is_that_of_the_dense_map(kernel_size, stride, padding):
    segmap = random_map(182, 3, torch.float64)  # with all-zero pixels and extra channels (they keep their gradient)
    expected = F.avg_pool2d(segmap.dense(), kernel_size, stride, padding, count_include_pad=False)
    pooled = segmap.avg_pool2d(kernel_size, stride, padding)
    torch.testing.assert_close(pooled, expected, rtol=0, atol=0)  # the same sums and divisions: the same bits
    (grad,) = torch.autograd.grad(pooled.sum(), segmap.extra)
    torch.testing.assert_close(grad, torch.autograd.grad(expected.sum(), segmap.extra)[0])


def test_below_lookup_min_classes_the_plain_conv_runs(monkeypatch):
    monkeypatch.setattr(onehot, "LOOKUP_MIN_CLASSES", 24)
    looked_up = []
    monkeypatch.setattr(onehot, "one_hot_conv2d", lambda segmap, *args: looked_up.append(segmap.num_classes))
    few = SegMap(torch.randint(0, 23, (1, 5, 5)), 23)
    conv = OneHotConv2d(23, 4, 3, padding=1)
    torch.testing.assert_close(conv(few), F.conv2d(few.dense(), conv.weight, conv.bias, padding=1))
    OneHotConv2d(24, 4, 3, padding=1)(SegMap(torch.randint(0, 24, (1, 5, 5)), 24))
    assert looked_up == [24]  # 23 classes: the plain conv; 24: the lookups


def test_the_torch_calls_of_the_networks_answer_a_segmap_as_the_dense_map():
    torch.manual_seed(0)
    segmap = random_map(9, 0, torch.float64)
    dense = segmap.dense(torch.float64)
    image = torch.randn(2, 3, 11, 13, dtype=torch.float64)
    conv = nn.Conv2d(9, 4, 3, padding=1).double()  # a plain conv: F.conv2d itself dispatches to the lookups
    torch.testing.assert_close(conv(segmap), conv(dense))
    resized = F.interpolate(segmap, size=(5, 7), mode="nearest")
    assert isinstance(resized, SegMap)
    torch.testing.assert_close(resized.dense(torch.float64), F.interpolate(dense, size=(5, 7), mode="nearest"))
    joined = torch.cat([segmap, image], dim=1)
    assert isinstance(joined, SegMap) and joined.shape == (2, 12, 11, 13)
    torch.testing.assert_close(F.avg_pool2d(joined, kernel_size=3, stride=2, padding=1, count_include_pad=False),
                               F.avg_pool2d(torch.cat([dense, image], 1), 3, 2, 1, count_include_pad=False))
    torch.testing.assert_close(torch.cat([segmap, segmap]).dense(torch.float64), torch.cat([dense, dense]))


def test_a_torch_call_a_segmap_does_not_answer_says_what_to_do():
    segmap = random_map(9, 0, torch.float32)
    with pytest.raises(TypeError, match=r"relu is not defined on a SegMap.*\.dense\(\)"):
        F.relu(segmap)
    with pytest.raises(ValueError, match="mode='nearest'"):
        F.interpolate(segmap, size=(4, 4), mode="bilinear")
    with pytest.raises(ValueError, match="count_include_pad=False"):
        F.avg_pool2d(segmap, 3, 2, 1)

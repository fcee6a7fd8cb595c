"""Label-map colours: colorize against a plain lookup, don't care in black, a distinct default palette."""

from __future__ import annotations

import pytest
import torch

from spade_lesson.data.palette import colorize, default_class_names, default_palette, to_uint8

PALETTE = [(10, 20, 30), (200, 100, 0), (0, 0, 255)]


def test_colorize_matches_a_plain_lookup() -> None:
    label = torch.tensor([[0, 1], [2, 255]])
    image = colorize(label, PALETTE)
    assert image.dtype == torch.uint8 and image.shape == (2, 2, 3)
    expected = [[PALETTE[0], PALETTE[1]], [PALETTE[2], (0, 0, 0)]]
    assert image.tolist() == [[list(color) for color in row] for row in expected]


def test_colorize_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="class id 3"):
        colorize(torch.tensor([[3]]), PALETTE)
    with pytest.raises(ValueError, match=r"integer tensor \(H, W\)"):
        colorize(torch.zeros(2, 2), PALETTE)
    with pytest.raises(ValueError, match=r"integer tensor \(H, W\)"):
        colorize(torch.zeros(1, 2, 2, dtype=torch.long), PALETTE)
    with pytest.raises(ValueError, match="256 colours"):
        colorize(torch.zeros(2, 2, dtype=torch.long), default_palette(256))


@pytest.mark.parametrize("num_classes", [1, 9, 35, 150, 255])
def test_default_palette_is_distinct(num_classes: int) -> None:
    colors = default_palette(num_classes)
    assert len(colors) == len(set(colors)) == num_classes
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in colors)


def test_default_class_names() -> None:
    assert default_class_names(3) == ["class 0", "class 1", "class 2"]


def test_to_uint8_inverts_the_loaders_scaling_and_clamps() -> None:
    pixels = torch.randint(0, 256, (5, 7, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    image = (pixels.permute(2, 0, 1).double() / 127.5 - 1.0).float()  # as SegmentationFolder scales an image
    assert torch.equal(to_uint8(image), pixels)
    assert to_uint8(torch.tensor([-3.0, 0.0, 3.0]).reshape(3, 1, 1)).flatten().tolist() == [0, 128, 255]

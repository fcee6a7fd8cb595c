"""Tests for spade_lesson.evaluation.calibration: the painters with no learning that calibrate the scores."""

from __future__ import annotations

import pytest
import torch

from spade_lesson.data import Landscapes
from spade_lesson.evaluation.calibration import blurred_painter, class_colours, flat_painter


def test_class_colours_are_each_class_mean_over_the_real_images():
    data = Landscapes(size=32, length=3)
    colours = class_colours(data)
    label, image = data[0]["label"], data[0]["image"]
    labels = torch.stack([data[i]["label"] for i in range(3)])
    images = torch.stack([data[i]["image"] for i in range(3)])
    present = int(label[0, 0])
    expected = images.permute(1, 0, 2, 3)[:, labels == present].mean(dim=1)
    assert colours.shape == (data.num_classes, 3) and torch.allclose(colours[present], expected)
    assert image.shape[0] == 3


def test_the_flat_painter_fills_each_region_with_its_colour():
    colours = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    label = torch.tensor([[[0, 1], [1, 255]]])
    picture = flat_painter(colours)(label)
    assert picture.shape == (1, 3, 2, 2)
    assert picture[0, :, 0, 0].tolist() == [1, 0, 0] and picture[0, :, 0, 1].tolist() == [0, 1, 0]
    assert picture[0, :, 1, 1].tolist() == [0, 0, 0]  # don't care: grey


def test_the_blurred_painter_averages_neighbours_and_keeps_the_size():
    colours = torch.tensor([[-1.0, -1, -1], [1.0, 1, 1]])
    label = torch.zeros(1, 8, 8, dtype=torch.long)
    label[:, :, 4:] = 1
    picture = blurred_painter(colours, kernel_size=3)(label)
    assert picture.shape == (1, 3, 8, 8)
    assert picture[0, 0, 0, 3].item() == pytest.approx(-1 / 3) and picture[0, 0, 0, 0].item() == -1


def test_the_blurred_painter_refuses_an_even_kernel():
    with pytest.raises(ValueError, match="kernel_size"):
        blurred_painter(torch.zeros(2, 3), kernel_size=4)

"""spade_lesson.layers.semantic_input: the generator's input as the official preprocess_input builds it."""

from __future__ import annotations

import pytest
import torch

from spade_lesson.layers.onehot import SegMap
from spade_lesson.layers.semantic_input import semantic_input, semantic_nc


def official_get_edges(t: torch.Tensor) -> torch.Tensor:
    """The official Pix2PixModel.get_edges, restated: t (N, 1, H, W) ids -> (N, 1, H, W) float, 1 where a pixel
    differs from its right or lower neighbour, marked on both pixels."""
    edge = torch.zeros(t.shape, dtype=torch.uint8)
    horizontal = (t[:, :, :, 1:] != t[:, :, :, :-1]).to(torch.uint8)
    vertical = (t[:, :, 1:, :] != t[:, :, :-1, :]).to(torch.uint8)
    edge[:, :, :, 1:] = edge[:, :, :, 1:] | horizontal
    edge[:, :, :, :-1] = edge[:, :, :, :-1] | horizontal
    edge[:, :, 1:, :] = edge[:, :, 1:, :] | vertical
    edge[:, :, :-1, :] = edge[:, :, :-1, :] | vertical
    return edge.float()


def test_channel_count_follows_the_official_options() -> None:
    assert semantic_nc(35) == 35
    assert semantic_nc(35, contain_dontcare_label=True) == 36
    assert semantic_nc(35, no_instance=False) == 36
    assert semantic_nc(35, contain_dontcare_label=True, no_instance=False) == 37  # as officially


def test_dontcare_channel_and_edges_of_the_instance_map() -> None:
    generator = torch.Generator().manual_seed(0)
    label = torch.randint(0, 4, (2, 9, 7), generator=generator)
    label[:, :2] = 255
    instance = torch.randint(0, 3, (2, 9, 7), generator=generator) * 1000 + label  # official instance ids: class*1000+k
    m = semantic_input(label, 4, contain_dontcare_label=True, no_instance=False, instance=instance)
    assert m.shape == (2, semantic_nc(4, True, False), 9, 7)
    assert torch.equal(m[:, 4], (label == 255).float())  # official: 255 -> class label_nc
    assert torch.equal(m[:, :5].sum(dim=1), torch.ones(2, 9, 7))  # every pixel is exactly one of the 5 classes
    assert torch.equal(m[:, 5:], official_get_edges(instance[:, None]))


def test_without_dontcare_those_pixels_are_zero_and_without_instances_class_boundaries_stand_in() -> None:
    label = torch.tensor([[[0, 0, 1], [255, 1, 1]]])
    m = semantic_input(label, 2, no_instance=False)
    assert m.shape == (1, 3, 2, 3) and torch.equal(m[0, :2, 1, 0], torch.zeros(2))
    assert torch.equal(m[:, 2:], official_get_edges(label[:, None]))
    assert torch.equal(semantic_input(label, 2), m[:, :2])  # no_instance: the one-hot map alone


def test_an_instance_map_of_another_size_is_one_clear_line() -> None:
    with pytest.raises(ValueError, match=r"instance map has shape \(1, 4, 4\) but the label map \(1, 2, 3\)"):
        semantic_input(torch.zeros(1, 2, 3, dtype=torch.long), 2, no_instance=False,
                       instance=torch.zeros(1, 4, 4, dtype=torch.long))


@pytest.mark.parametrize(("dontcare", "no_instance"), [(False, True), (True, False), (False, False)])
def test_the_lookup_form_is_the_same_map(dontcare: bool, no_instance: bool) -> None:
    generator = torch.Generator().manual_seed(1)
    label = torch.randint(0, 4, (2, 9, 7), generator=generator)
    label[1, 3:] = 255
    instance = torch.randint(0, 3, (2, 9, 7), generator=generator) * 1000 + label
    options = {"contain_dontcare_label": dontcare, "no_instance": no_instance, "instance": instance}
    segmap = semantic_input(label, 4, lookup=True, **options)
    assert isinstance(segmap, SegMap) and segmap.shape[1] == semantic_nc(4, dontcare, no_instance)
    assert torch.equal(segmap.dense(), semantic_input(label, 4, **options))

"""one_hot and instance_edges turn label maps into the networks' input."""

from __future__ import annotations

import pytest
import torch

from spade_lesson.data.semantic import instance_edges, one_hot


def test_one_hot_matches_a_hand_built_encoding():
    label = torch.tensor([[[0, 2], [1, 255]]])
    out = one_hot(label, num_classes=3)
    expected = torch.zeros(1, 3, 2, 2)
    expected[0, 0, 0, 0] = expected[0, 2, 0, 1] = expected[0, 1, 1, 0] = 1
    assert torch.equal(out, expected)


def test_dontcare_channel_marks_ignored_pixels():
    label = torch.tensor([[[0, 255]]])
    out = one_hot(label, num_classes=2, dontcare=True)
    assert out.shape == (1, 3, 1, 2)
    assert out[0, :, 0, 1].tolist() == [0, 0, 1]
    assert out[0, :, 0, 0].tolist() == [1, 0, 0]


@pytest.mark.parametrize("bad", [3, -1, 254])
def test_out_of_range_ids_are_a_clear_error(bad):
    with pytest.raises(ValueError, match=f"class id {bad}"):
        one_hot(torch.tensor([[[0, bad]]]), num_classes=3)


def test_float_or_wrongly_shaped_labels_are_refused():
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        one_hot(torch.zeros(1, 1, 4, 4, dtype=torch.long), num_classes=2)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        one_hot(torch.zeros(1, 4, 4), num_classes=2)


def test_instance_edges_mark_both_sides_of_a_boundary():
    instance = torch.tensor([[[1, 1, 2, 2], [1, 1, 2, 2]]])
    edges = instance_edges(instance)[0, 0]
    assert edges.tolist() == [[0, 1, 1, 0], [0, 1, 1, 0]]

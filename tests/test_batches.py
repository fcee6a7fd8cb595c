"""Tests for spade_lesson.data.batches: a dataset's items as one batch."""

from __future__ import annotations

import pytest
import torch

from spade_lesson.data import Landscapes, stack_items


def test_stack_items_stacks_the_first_n_items_key_by_key():
    data = Landscapes(size=32, length=5)
    batch = stack_items(data, 3)
    assert batch["label"].shape == (3, 32, 32) and batch["image"].shape == (3, 3, 32, 32)
    assert torch.equal(batch["label"][2], data[2]["label"]) and torch.equal(batch["image"][0], data[0]["image"])


def test_stack_items_takes_the_indices_given():
    data = Landscapes(size=32, length=5)
    assert torch.equal(stack_items(data, [4, 1])["label"], torch.stack([data[4]["label"], data[1]["label"]]))


@pytest.mark.parametrize("items", [0, 6, True, []])
def test_stack_items_refuses_counts_the_dataset_cannot_give(items):
    with pytest.raises((ValueError, TypeError), match="stack_items"):
        stack_items(Landscapes(size=32, length=5), items)

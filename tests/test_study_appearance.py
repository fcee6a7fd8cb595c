"""spade_lesson.evaluation.study.appearance: the share of colour variance each grouping of pixels explains."""

from __future__ import annotations

import pytest
import torch

from spade_lesson.evaluation.study.appearance import explained_variance


class Painted(torch.utils.data.Dataset):
    """Two classes side by side; class 0's colour depends on the image (its look) only."""

    num_classes = 2

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        label = torch.zeros(8, 8, dtype=torch.long)
        label[:, 4:] = 1
        image = torch.zeros(3, 8, 8)
        image[:, :, :4] = index / 4  # class 0: a look per image
        image[:, :, 4:] = 1.0
        return {"label": label, "image": image}


def test_a_look_per_image_is_explained_by_class_and_image_not_by_class_alone() -> None:
    shares = explained_variance(Painted(), 4, window=3)
    assert shares["class x image"] == pytest.approx(1.0)
    assert shares["class"] < 0.95
    assert shares["class"] <= shares["class x neighbour class"] <= shares["class x image x neighbour class"] + 1e-9

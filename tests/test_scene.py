"""Landscape layouts: the painter's maps are consistent with the label map, and scenes obey simple perspective."""

from __future__ import annotations

import numpy as np
import pytest

from spade_lesson.data.scene import CLASS_NAMES, PALETTE, ROCK, SKY, TREE, WATER, Scene, compose, ground_far


@pytest.fixture(scope="module")
def scenes() -> list[Scene]:
    """40 layouts at 64 x 64."""
    return [compose(np.random.default_rng([0, i]), 64) for i in range(40)]


def test_maps_have_the_right_shapes_and_ranges(scenes: list[Scene]) -> None:
    for scene in scenes:
        assert scene.label.shape == scene.far.shape == scene.height.shape == scene.slope.shape == (64, 64)
        assert scene.label.dtype == np.uint8 and scene.label.max() < len(CLASS_NAMES)
        assert 0.0 < scene.far.min() and scene.far.max() <= 1.0
        assert 0.0 <= scene.height.min() and scene.height.max() <= 1.0
        assert 0.3 < scene.horizon < 0.7


def test_sky_is_far_and_flat(scenes: list[Scene]) -> None:
    for scene in scenes:
        sky = scene.label == SKY
        assert (scene.far[sky] == 1.0).all() and (scene.slope[sky] == 0.0).all()


def test_ground_comes_closer_towards_the_bottom(scenes: list[Scene]) -> None:
    for scene in scenes:
        ground = scene.far[int(np.ceil(scene.horizon * 64)) + 1:, 0]
        assert (np.diff(ground) <= 0).all()
    assert ground_far(0.5, 0.5) == pytest.approx(1.0) and ground_far(1.0, 0.5) < 0.1


def test_water_lies_below_the_horizon_and_objects_stand_on_the_ground(scenes: list[Scene]) -> None:
    checked = 0
    for scene in scenes:
        rows = (np.arange(64) + 0.5) / 64
        assert (rows[(scene.label == WATER).any(axis=1)] >= scene.horizon).all()
        for kind in (TREE, ROCK):
            mask = scene.label == kind
            columns = mask.any(axis=0)
            if columns.any():
                checked += 1
                foot = 63 - np.argmax(mask[::-1, columns], axis=0)  # lowest pixel of the object in each column
                assert (rows[foot] >= scene.horizon - 1 / 64).all()  # within a pixel of the ground
    assert checked >= 10


def test_compose_is_fixed_by_the_generator() -> None:
    first, second = (compose(np.random.default_rng(9), 48) for _ in range(2))
    assert np.array_equal(first.label, second.label) and np.array_equal(first.far, second.far)


def test_palette_matches_classes() -> None:
    assert len(PALETTE) == len(CLASS_NAMES) == len(set(PALETTE))

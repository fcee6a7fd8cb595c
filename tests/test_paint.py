"""The painter: a valid image, sky graded towards the horizon, haze pulling far things to the haze colour."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spade_lesson.data.paint import paint
from spade_lesson.data.scene import SKY, Scene, compose
from spade_lesson.data.style import Style, draw_style


@pytest.fixture(scope="module")
def scene() -> Scene:
    """A layout with plenty of sky and ground."""
    return compose(np.random.default_rng(4), 64)


@pytest.fixture(scope="module")
def style() -> Style:
    """A daytime style."""
    return draw_style(np.random.default_rng(4), 9, time_of_day="day")


def test_image_shape_range_dtype(scene: Scene, style: Style) -> None:
    image = paint(scene, style, np.random.default_rng(0))
    assert image.shape == (3, 64, 64) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0


def test_textures_come_from_the_generator(scene: Scene, style: Style) -> None:
    same = [paint(scene, style, np.random.default_rng(7)) for _ in range(2)]
    other = paint(scene, style, np.random.default_rng(8))
    assert np.array_equal(same[0], same[1]) and not np.array_equal(same[0], other)


def test_sky_fades_towards_the_horizon_colour(scene: Scene) -> None:
    style = dataclasses.replace(draw_style(np.random.default_rng(5), 9, time_of_day="day"), sun=(0.5, 5.0))
    image = paint(scene, style, np.random.default_rng(0))
    sky = scene.label == SKY
    top_row = int(np.argmax(sky.any(axis=1)))
    low_row = int(np.nonzero(sky.any(axis=1))[0].max())
    gap = [np.abs(image[:, row, sky[row]].T - style.sky_horizon).mean() for row in (top_row, low_row)]
    assert gap[1] < gap[0]


def test_haze_pulls_far_pixels_to_the_haze_colour(scene: Scene, style: Style) -> None:
    clear, hazy = (paint(scene, dataclasses.replace(style, haze=haze), np.random.default_rng(0)) for haze in (0.0, 1.0))
    far = (scene.far > 0.9) & (scene.label != SKY)
    assert far.any()
    gap = [np.abs(image[:, far].T - style.sky_horizon).mean() for image in (clear, hazy)]
    assert gap[1] < 0.5 * gap[0]

"""Global styles: drawn from their own generator, every time of day reachable, bad names refused."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from spade_lesson.data.style import TIME_WEIGHTS, TIMES_OF_DAY, draw_style


def test_draws_follow_the_time_weights() -> None:
    rng = np.random.default_rng(0)
    counts = Counter(draw_style(rng, 9).time_of_day for _ in range(400))
    for time_of_day, weight in zip(TIMES_OF_DAY, TIME_WEIGHTS):
        assert abs(counts[time_of_day] / 400 - weight) < 0.08


def test_style_fields() -> None:
    style = draw_style(np.random.default_rng(1), 9, time_of_day="dusk")
    assert style.time_of_day == "dusk" and style.tint.shape == (9, 3)
    assert 0.0 <= style.haze <= 1.0 and 0.0 <= style.season <= 1.0 and 0.0 <= style.sun[0] <= 1.0
    assert all(color.shape == (3,) for color in (style.sky_top, style.sky_horizon, style.sunlight, style.shadow))


def test_night_is_darker_than_day() -> None:
    day = draw_style(np.random.default_rng(2), 9, time_of_day="day")
    night = draw_style(np.random.default_rng(2), 9, time_of_day="night")
    assert night.sunlight.sum() < day.sunlight.sum() and night.sky_top.sum() < day.sky_top.sum()


def test_unknown_time_of_day() -> None:
    with pytest.raises(ValueError, match="time_of_day='noon'"):
        draw_style(np.random.default_rng(0), 9, time_of_day="noon")

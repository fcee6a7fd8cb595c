"""The global style of a landscape image (time of day, palette shift, haze), drawn independently of its label map."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# time of day -> (zenith sky, horizon sky = haze colour, sunlight, shadow light), RGB in [0, 1]
TIMES_OF_DAY = {
    "day": ((0.22, 0.45, 0.85), (0.72, 0.83, 0.95), (1.0, 0.97, 0.9), (0.42, 0.48, 0.6)),
    "golden hour": ((0.28, 0.42, 0.72), (1.0, 0.78, 0.5), (1.1, 0.9, 0.62), (0.42, 0.36, 0.45)),
    "dusk": ((0.1, 0.1, 0.3), (0.95, 0.45, 0.38), (0.72, 0.48, 0.55), (0.22, 0.18, 0.32)),
    "night": ((0.01, 0.02, 0.07), (0.08, 0.12, 0.24), (0.32, 0.38, 0.55), (0.1, 0.12, 0.22)),
}
TIME_WEIGHTS = (0.5, 0.2, 0.15, 0.15)  # how often each time of day is drawn


@dataclass(frozen=True)
class Style:
    """How one image is lit and graded; the same label map painted in two styles gives two plausible images."""

    time_of_day: str  # one of TIMES_OF_DAY
    sky_top: np.ndarray  # (3,) colour of the sky at the top of the image
    sky_horizon: np.ndarray  # (3,) colour of the sky at the horizon, also the colour of the haze
    sunlight: np.ndarray  # (3,) light on surfaces facing the sun
    shadow: np.ndarray  # (3,) light on surfaces facing away
    sun: tuple[float, float]  # sun (or moon): x in image widths, elevation in sky heights above the horizon (< 0: set)
    haze: float  # 0..1, how much far things fade into the horizon colour (atmospheric perspective)
    season: float  # 0 = lush green, 1 = dry grass and autumn trees
    tint: np.ndarray  # (num_classes, 3) per-class colour multipliers near 1: the palette shift
    saturation: float  # 1 = as painted, < 1 duller, > 1 more vivid


def draw_style(rng: np.random.Generator, num_classes: int, time_of_day: str | None = None) -> Style:
    """Draw a style; time_of_day forces one of TIMES_OF_DAY instead of drawing it."""
    if time_of_day is None:
        time_of_day = str(rng.choice(list(TIMES_OF_DAY), p=TIME_WEIGHTS))
    elif time_of_day not in TIMES_OF_DAY:
        raise ValueError(f"time_of_day={time_of_day!r}: choose one of {', '.join(TIMES_OF_DAY)}")
    top, glow, sunlight, shadow = (np.asarray(c, dtype=np.float32) * rng.uniform(0.9, 1.1, 3).astype(np.float32)
                                   for c in TIMES_OF_DAY[time_of_day])
    elevation = {"day": (0.5, 1.6), "golden hour": (0.05, 0.3), "dusk": (-0.05, 0.04), "night": (0.4, 0.9)}
    sun = (float(rng.uniform(0.1, 0.9)), float(rng.uniform(*elevation[time_of_day])))
    return Style(time_of_day=time_of_day, sky_top=top, sky_horizon=glow, sunlight=sunlight, shadow=shadow, sun=sun,
                 haze=float(rng.uniform(0.1, 0.6)), season=float(rng.beta(1.2, 2.5)),
                 tint=rng.uniform(0.88, 1.12, (num_classes, 3)).astype(np.float32),
                 saturation=float(rng.uniform(0.8, 1.2)))

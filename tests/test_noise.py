"""Value noise: upsampling matches a per-pixel reference, profiles and fields stay in [0, 1] and are smooth."""

from __future__ import annotations

import numpy as np
import pytest

from spade_lesson.data.noise import field, lattice_coordinates, profile, upsample


def smoothstep_reference(lattice: np.ndarray, height: int, width: int) -> np.ndarray:
    """Per-pixel loop: bilinear interpolation with smoothstep weights, at pixel centres."""
    rows, cols = lattice.shape[0] - 1, lattice.shape[1] - 1
    out = np.zeros((height, width))
    for i in range(height):
        for j in range(width):
            v, u = (i + 0.5) / height * rows, (j + 0.5) / width * cols
            top, left = min(int(v), rows - 1), min(int(u), cols - 1)
            s, t = v - top, u - left
            s, t = s * s * (3 - 2 * s), t * t * (3 - 2 * t)
            out[i, j] = ((1 - s) * (1 - t) * lattice[top, left] + (1 - s) * t * lattice[top, left + 1]
                         + s * (1 - t) * lattice[top + 1, left] + s * t * lattice[top + 1, left + 1])
    return out


def test_upsample_matches_reference() -> None:
    lattice = np.random.default_rng(0).random((4, 6)).astype(np.float32)
    assert np.allclose(upsample(lattice, 13, 17), smoothstep_reference(lattice, 13, 17), atol=1e-5)


def test_lattice_coordinates_stay_inside() -> None:
    left, weight = lattice_coordinates(50, 7)
    assert left.min() == 0 and left.max() == 6 and weight.min() >= 0 and weight.max() <= 1
    assert left.dtype == np.int64 and weight.dtype == np.float32


def test_profile_range_and_smoothness() -> None:
    curve = profile(np.random.default_rng(1), 256, cells=4, octaves=3)
    assert curve.shape == (256,) and curve.dtype == np.float32
    assert 0.0 <= curve.min() and curve.max() <= 1.0 and curve.std() > 0.05
    assert np.abs(np.diff(curve)).max() < 0.1


def test_profile_is_fixed_by_the_generator() -> None:
    assert np.array_equal(profile(np.random.default_rng(5), 64), profile(np.random.default_rng(5), 64))
    assert not np.array_equal(profile(np.random.default_rng(5), 64), profile(np.random.default_rng(6), 64))


@pytest.mark.parametrize("shape", [(32, 32), (40, 90)])
def test_field_range_and_dtype(shape: tuple[int, int]) -> None:
    image = field(np.random.default_rng(2), *shape, cells=4, octaves=3)
    assert image.shape == shape and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0 and image.std() > 0.03


def test_field_aspect_stretches_features_sideways() -> None:
    image = field(np.random.default_rng(3), 128, 128, cells=8, octaves=2, aspect=8.0)
    across = np.abs(np.diff(image, axis=1)).mean()
    down = np.abs(np.diff(image, axis=0)).mean()
    assert down > 4 * across

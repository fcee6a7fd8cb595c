"""Cheap value noise for procedural scenes: small random lattices smoothly upsampled, no per-pixel Python loops."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def lattice_coordinates(length: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """For `length` pixel centres over `cells` lattice cells: each centre's left lattice point and smoothstep weight."""
    position = (np.arange(length, dtype=np.float32) + 0.5) / length * cells
    left = np.minimum(position.astype(np.int64), cells - 1)
    t = position - left.astype(np.float32)
    weight = t * t * (3.0 - 2.0 * t)  # smoothstep: the curve has zero slope at every lattice point
    left.flags.writeable = weight.flags.writeable = False
    return left, weight


def upsample(lattice: np.ndarray, height: int, width: int) -> np.ndarray:
    """Smoothly interpolate a (rows + 1, cols + 1) lattice of values to a (height, width) image, rows then columns."""
    top, down = lattice_coordinates(height, lattice.shape[0] - 1)
    rows = lattice[top] + (lattice[top + 1] - lattice[top]) * down[:, None]  # (height, cols + 1)
    left, across = lattice_coordinates(width, lattice.shape[1] - 1)
    step = rows[:, 1:] - rows[:, :-1]
    return rows[:, left] + step[:, left] * across


def profile(rng: np.random.Generator, length: int, cells: int = 4, octaves: int = 4,
            roughness: float = 0.5) -> np.ndarray:
    """A 1D fractal noise curve of `length` samples in [0, 1]: octaves of value noise, each twice as fine."""
    total = np.zeros(length, dtype=np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        n = cells * 2**octave
        left, weight = lattice_coordinates(length, n)
        values = rng.random(n + 1, dtype=np.float32)
        total += amplitude * (values[left] + (values[left + 1] - values[left]) * weight)
        norm += amplitude
        amplitude *= roughness
    return total / norm


def field(rng: np.random.Generator, height: int, width: int, cells: int = 4, octaves: int = 4,
          roughness: float = 0.5, aspect: float = 1.0) -> np.ndarray:
    """A 2D fractal noise image (height, width) in [0, 1] whose features are `aspect` times wider than tall."""
    rows = cells * 2 ** (octaves - 1)
    shape = (rows + 1, max(1, round(rows / aspect)) + 1)
    total = np.zeros(shape, dtype=np.float32)  # octaves add up on the finest lattice: one full-size upsampling in all
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        coarse = cells * 2**octave
        lattice = rng.random((coarse + 1, max(1, round(coarse / aspect)) + 1), dtype=np.float32)
        total += amplitude * (lattice if lattice.shape == shape else upsample(lattice, *shape))
        norm += amplitude
        amplitude *= roughness
    return upsample(total / norm, height, width)

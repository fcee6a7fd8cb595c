"""Checks of the exercises in notebook 07, interactive GauGAN."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from spade_lesson.course.checks.core import Cases, Mistake, _isolated
from spade_lesson.course.labelmap import LabelMap
from spade_lesson.models.encoder import reparameterize


def _fill_region(label: np.ndarray, row: int, column: int, class_id: int, diagonal: bool) -> np.ndarray:
    """A copy of label whose region around (row, column) holds class_id; diagonal: 8-connected instead of 4."""
    out = label.copy()
    target = out[row, column]
    if target == class_id:
        return out
    steps = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr or dc) and (diagonal or not (dr and dc))]
    out[row, column] = class_id
    todo = [(row, column)]
    while todo:
        r, c = todo.pop()
        for nr, nc in ((r + dr, c + dc) for dr, dc in steps):
            if 0 <= nr < out.shape[0] and 0 <= nc < out.shape[1] and out[nr, nc] == target:
                out[nr, nc] = class_id
                todo.append((nr, nc))
    return out


@_isolated
def check_flood_fill(flood_fill: Callable[..., Any]) -> None:
    """Exercise 07.1: flood_fill(label, x, y, class_id) against LabelMap.fill, on random maps and a huge region."""
    trials = 20
    cases = Cases("check_flood_fill", trials + 2)
    rng = np.random.default_rng(0)
    advice = {RecursionError: Mistake("a recursion deeper than Python allows (about 1000 nested calls)",
                                      "keep a list of pixels still to visit and loop until it is empty", None),
              IndexError: Mistake("x and y swapped", "x is the column, y the row: index the map as label[y, x]", None)}
    hint = "the region is what up/down/left/right steps reach through pixels of the clicked id"
    for trial in range(trials):
        noisy = (rng.random((24, 32)) < 0.45).astype(np.uint8)  # blobs of 0 and 1 with winding borders
        x, y = int(rng.integers(32)), int(rng.integers(24))
        cases.case(f"random 24 x 32 map {trial}, fill at x={x}, y={y}")
        reference = LabelMap.from_array(noisy, num_classes=3)
        reference.fill(x, y, class_id=2)
        label = noisy.copy()
        mistakes = [Mistake("an 8-connected fill", "diagonal neighbours are not connected: step up, down, left and "
                            "right only", _fill_region(noisy, y, x, 2, diagonal=True)),
                    Mistake("every pixel of the clicked id recoloured", "only the connected region around the click "
                            "changes", np.where(noisy == noisy[y, x], 2, noisy).astype(noisy.dtype))]
        if x < 24 and y < 32:
            mistakes.append(Mistake("x and y swapped", "x is the column, y the row: label[y, x]",
                                    _fill_region(noisy, x, y, 2, diagonal=False)))
        got = cases.call(flood_fill, label, x, y, 2, advice=advice)
        cases.same("filled map", got, reference.to_numpy(), hint, mistakes)
        cases.same("the map passed in", label, noisy, "leave the input as it was: fill a copy, label.copy()")
    cases.case("a map filled with its own class")
    got = cases.call(flood_fill, np.ones((5, 6), dtype=np.uint8), 2, 3, 1, advice=advice)
    cases.same("filled map", got, np.ones((5, 6), dtype=np.uint8), "filling with the id already there changes nothing")
    cases.case("a 300 x 300 map of one class: 90000 pixels, far beyond Python's recursion limit")
    got = cases.call(flood_fill, np.zeros((300, 300), dtype=np.uint8), 0, 0, 1, advice=advice)
    cases.same("filled map", got, np.ones((300, 300), dtype=np.uint8), hint)
    cases.passed()


@_isolated
def check_brush_mask(brush_mask: Callable[..., Any]) -> None:
    """Exercise 07.2: brush_mask(height, width, x, y, size) against LabelMap.stroke at one point."""
    settings = [(5.2, 7.9, 1), (0, 0, 4), (10.5, 3.1, 5), (15.9, 11.0, 7.5), (8, 8, 2)]
    cases = Cases("check_brush_mask", len(settings))
    rows, columns = np.indices((12, 16)) + 0.5  # pixel centres
    for x, y, size in settings:
        cases.case(f"12 x 16 map, x={x}, y={y}, size={size}")
        reference = LabelMap(12, 16, num_classes=2)
        reference.stroke([(x, y)], class_id=1, size=size)
        cx, cy = np.floor(x) + 0.5, np.floor(y) + 0.5
        distance = np.hypot(columns - cx, rows - cy)
        got = cases.call(brush_mask, 12, 16, x, y, size)
        cases.same("mask", got, reference.to_numpy() == 1,
                   "the brush paints the pixels whose centres lie within its radius of the snapped click",
                   [Mistake("the click not snapped to its pixel's centre", "a brush of size 1 must paint exactly the "
                            "pixel clicked: centre = (floor(x) + 0.5, floor(y) + 0.5)",
                            np.hypot(columns - x, rows - y) <= size / 2),
                    Mistake("the diameter used as the radius", "size is the brush's diameter", distance <= size),
                    Mistake("a strict <", "pixels exactly on the brush's edge are painted too", distance < size / 2),
                    Mistake("x and y swapped", "x is the column, y the row",
                            np.hypot(columns - cy, rows - cx) <= size / 2)])
    cases.passed()


@_isolated
def check_interpolate_styles(interpolate_styles: Callable[..., Any]) -> None:
    """Exercise 07.3: interpolate_styles(z_a, z_b, steps) against torch.lerp."""
    settings = [(8, 5), (256, 2), (3, 7)]
    cases = Cases("check_interpolate_styles", len(settings))
    for z_dim, steps in settings:
        cases.case(f"z_dim={z_dim}, steps={steps}")
        z_a, z_b = torch.randn(1, z_dim), torch.randn(1, z_dim)
        expected = torch.lerp(z_a, z_b, torch.linspace(0, 1, steps)[:, None])
        got = cases.call(interpolate_styles, z_a.clone(), z_b.clone(), steps)
        cases.close("codes", got, expected, "the walk starts exactly at z_a and ends exactly at z_b, in equal steps",
                    [Mistake("t / steps instead of t / (steps - 1)", "the last row must be z_b itself",
                             torch.lerp(z_a, z_b, torch.arange(steps)[:, None] / steps)),
                     Mistake("the walk reversed", "row 0 is z_a", expected.flip(0)),
                     Mistake("the end points left out", "row 0 is z_a and the last row z_b",
                             torch.lerp(z_a, z_b, torch.linspace(0, 1, steps + 2)[1:-1, None])),
                     Mistake("an extra batch dimension", "return (steps, z_dim): z_a and z_b are (1, z_dim)",
                             expected[None])],
                    atol=1e-5)
    cases.passed()


@_isolated
def check_sample_style(sample_style: Callable[..., Any]) -> None:
    """Exercise 07.4: sample_style(mu, logvar, noise) against the encoder's spade_lesson.models.encoder.reparameterize
    on the same noise."""
    settings = [("random", (1, 8), 1.0), ("a confident encoder (logvar far below 0)", (2, 16), -4.0),
                ("an unsure encoder (logvar above 0)", (3, 256), 2.0)]
    cases = Cases("check_sample_style", len(settings))
    for description, shape, centre in settings:
        cases.case(f"{description}, mu and logvar {shape}")
        mu, logvar = torch.randn(*shape), centre + torch.randn(*shape)
        state = torch.random.get_rng_state()
        expected = reparameterize(mu, logvar)  # draws its noise with torch.randn_like: the same draw as below
        torch.random.set_rng_state(state)
        noise = torch.randn_like(mu)
        got = cases.call(sample_style, mu.clone(), logvar.clone(), noise.clone())
        std = (0.5 * logvar).exp()
        cases.close("z", got, expected, "z is the encoder's mean moved by the noise, scaled by the encoder's "
                    "standard deviation; which of mu, logvar, sigma, sigma^2 does each part read?",
                    [Mistake("the variance in place of the standard deviation", "logvar is the log of sigma^2: "
                             "sigma is the exponential of half of it", mu + logvar.exp() * noise),
                     Mistake("logvar used as the standard deviation", "logvar is a logarithm: take the exponential of "
                             "half of it to get sigma", mu + logvar * noise),
                     Mistake("the mean left out", "the noise moves z around the encoder's mean: add mu",
                             std * noise),
                     Mistake("the noise added, not scaled", "the noise is multiplied by sigma, then added to mu",
                             mu + std + noise),
                     Mistake("the noise left out", "z is a sample: the noise, scaled by sigma, is added to mu", mu),
                     Mistake("mu and logvar swapped", "the first argument is the mean, the second log sigma^2",
                             logvar + (0.5 * mu).exp() * noise)],
                    atol=1e-5)
    cases.passed()

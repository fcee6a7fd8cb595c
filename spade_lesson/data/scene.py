"""Procedural landscape label maps: horizon, mountain ridges, clouds, water, trees and rocks, painted back to front."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from spade_lesson.data import noise

CLASS_NAMES = ["sky", "cloud", "mountain", "snow", "rock", "water", "grass", "tree", "sand"]
SKY, CLOUD, MOUNTAIN, SNOW, ROCK, WATER, GRASS, TREE, SAND = range(len(CLASS_NAMES))
PALETTE = [
    (120, 180, 240),  # sky
    (235, 235, 235),  # cloud
    (135, 105, 80),  # mountain
    (170, 240, 255),  # snow
    (110, 110, 120),  # rock
    (30, 70, 190),  # water
    (120, 205, 75),  # grass
    (25, 105, 45),  # tree
    (235, 205, 125),  # sand
]
BIOMES = {"meadow": GRASS, "winter": SNOW, "desert": SAND}  # what the ground is made of
GROUND_FALLOFF = 0.05  # how fast the ground stops being "far" below the horizon, in image heights
WOBBLE, WIDE = 0.12, 1.3  # a boulder's edge: the amplitude of its 3 lumps, and its width over its height


@dataclass
class Scene:
    """One landscape's layout: class ids plus what the painter needs to shade them."""

    label: np.ndarray  # (H, W) uint8 class ids
    far: np.ndarray  # (H, W) float32: 1 at the horizon and in the sky, falling towards 0 near the viewer
    height: np.ndarray  # (H, W) float32: 0 at the top of a pixel's object (crest, canopy, cloud top), 1 at its foot
    slope: np.ndarray  # (H, W) float32: how the object's face under a pixel turns, > 0 towards the right, 0 if flat
    horizon: float  # row of the horizon, as a fraction of the image height from the top


Painter = Callable[[Scene, np.ndarray, np.ndarray], None]  # draws one object into a scene, given the grid y, x
Placed = list[tuple[float, Painter]]  # objects standing on the ground, each with the row of its foot


@lru_cache(maxsize=8)
def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [0, 1]: y (size, 1) from the top, x (1, size) from the left."""
    centres = ((np.arange(size, dtype=np.float32) + 0.5) / size)
    y, x = centres[:, None].copy(), centres[None, :].copy()
    y.flags.writeable = x.flags.writeable = False
    return y, x


def ground_far(y: np.ndarray | float, horizon: float) -> np.ndarray | float:
    """How far a point of flat ground drawn at row y looks: 1 at the horizon, ~ 1 / distance below it (perspective)."""
    return GROUND_FALLOFF / (np.maximum(np.asarray(y, dtype=np.float32) - horizon, 0.0) + GROUND_FALLOFF)


def compose(rng: np.random.Generator, size: int) -> Scene:
    """Draw one landscape layout of (size, size) pixels; all randomness comes from rng."""
    y, x = grid(size)
    biome = rng.choice(list(BIOMES), p=[0.7, 0.12, 0.18])
    horizon = float(rng.uniform(0.38, 0.62))
    scene = Scene(label=np.full((size, size), SKY, dtype=np.uint8), far=np.ones((size, size), dtype=np.float32),
                  height=np.zeros((size, size), dtype=np.float32), slope=np.zeros((size, size), dtype=np.float32),
                  horizon=horizon)
    rough = noise.field(rng, size, size, cells=8, octaves=3)
    add_clouds(scene, rng, y, x)
    add_ridges(scene, rng, y, rough, snowy=biome == "winter", hills=biome == "meadow")
    below = y >= horizon
    scene.label[np.broadcast_to(below, scene.label.shape)] = BIOMES[biome]
    scene.far[:] = np.where(below, ground_far(y, horizon), scene.far)
    if biome != "desert" or rng.random() < 0.3:
        add_water(scene, rng, y, x, rough, sandy_shore=rng.random() < 0.75)
    objects = trees(rng, horizon, conifer_only=biome == "winter") if biome != "desert" else []
    objects += rocks(rng, horizon, many=biome == "desert")
    for _, paint in sorted(objects, key=lambda item: item[0]):  # far (high foot) to near: nearer objects cover
        paint(scene, y, x)
    return scene


def add_clouds(scene: Scene, rng: np.random.Generator, y: np.ndarray, x: np.ndarray) -> None:
    """0-4 clouds above the horizon: puffy cumulus (round bumps on a flat base) or thin streaks, frayed by noise."""
    count = rng.choice(5, p=[0.35, 0.2, 0.2, 0.15, 0.1])
    if count == 0 or scene.horizon < 0.2:
        return
    size = scene.label.shape[0]
    wisps = noise.field(rng, int(np.ceil(scene.horizon * size)), size, cells=8, octaves=3) - 0.5  # the sky rows
    for _ in range(count):
        cx, base = rng.uniform(-0.1, 1.1), rng.uniform(0.08, scene.horizon - 0.06)
        if rng.random() < 0.65:
            width = rng.uniform(0.12, 0.4)
            puffs = int(rng.integers(3, 9))
            centres = (cx + width * rng.uniform(-0.5, 0.5, puffs)).astype(np.float32)
            radii = (width * rng.uniform(0.12, 0.3, puffs)).astype(np.float32)
            u = (x[0][None, :] - centres[:, None]) / radii[:, None]  # (puffs, W)
            domes = radii[:, None] * rng.uniform(0.6, 1.0, puffs)[:, None] * np.sqrt(np.maximum(1.0 - u * u, 0.0))
            bumps = domes.max(axis=0)  # the cloud's outline: the highest round puff over each column
            top = base - bumps
            fuzz = 0.3 * (base - top.min())
            rows = slice(max(int((top.min() - fuzz) * size), 0), min(int((base + fuzz) * size) + 1, len(wisps)))
            level = y[rows] + fuzz * wisps[rows]
            cloud = (bumps > 0) & (level >= top) & (level < base)
            height = np.clip((y[rows] - top) / np.maximum(base - top, 1e-3), 0.0, 1.0)
        else:
            half_width, half_height = rng.uniform(0.15, 0.45), rng.uniform(0.008, 0.025)
            rows = slice(max(int((base - 2 * half_height) * size), 0),
                         min(int((base + 2 * half_height) * size) + 1, len(wisps)))
            spread = ((x - cx) / half_width) ** 2 + ((y[rows] - base) / half_height) ** 2
            cloud = spread + 1.5 * wisps[rows] < 1.0
            height = np.full(cloud.shape, 0.5, dtype=np.float32)
        cloud &= y[rows] < scene.horizon
        scene.label[rows][cloud] = CLOUD
        scene.far[rows][cloud] = 0.7
        scene.height[rows][cloud] = height[cloud]


def add_ridges(scene: Scene, rng: np.random.Generator, y: np.ndarray, rough: np.ndarray, snowy: bool,
               hills: bool) -> None:
    """0-3 mountain ridges standing on the horizon, far and tall to near and low; 1D fractal crests, maybe snow caps."""
    count = rng.choice(4, p=[0.25, 0.3, 0.3, 0.15])
    sky = slice(0, int(np.ceil(scene.horizon * scene.label.shape[0])))  # ridges stand above the horizon
    y, rough = y[sky], rough[sky]
    label, far, height, slope = scene.label[sky], scene.far[sky], scene.height[sky], scene.slope[sky]
    for k in range(count):
        nearness = k / max(count - 1, 1)
        rolling = hills and k == count - 1 and rng.random() < 0.3  # a front row of green hills
        crest = noise.profile(rng, scene.label.shape[1], cells=int(rng.integers(2, 5)), octaves=3 if rolling else 5,
                              roughness=0.3 if rolling else 0.55)
        crest = (crest - crest.min()) / (crest.max() - crest.min() + 1e-6)
        tallness = rng.uniform(0.1, 0.3) if rolling else rng.uniform(0.35, 0.85) * (1 - 0.45 * nearness)
        amplitude = scene.horizon * tallness
        top = scene.horizon - amplitude * (0.15 + 0.85 * crest)
        ridge = (y >= top) & (y < scene.horizon)
        label[ridge] = GRASS if rolling else MOUNTAIN
        far[ridge] = 0.95 - 0.3 * nearness
        height[:] = np.where(ridge, (y - top) / (scene.horizon - top), height)
        slope[:] = np.where(ridge, np.gradient(top) * len(top), slope)  # d(crest)/dx: the peak's faces
        if not rolling and (snowy or (amplitude > 0.25 * scene.horizon and rng.random() < 0.6)):
            snow_line = scene.horizon - amplitude * rng.uniform(0.45, 0.8)
            label[ridge & (y < snow_line + amplitude * 0.4 * (rough - 0.5))] = SNOW


def add_water(scene: Scene, rng: np.random.Generator, y: np.ndarray, x: np.ndarray, rough: np.ndarray,
              sandy_shore: bool) -> None:
    """Maybe a lake (a noisy ellipse on the ground) or a sea up to the horizon, ringed by a band of sand."""
    kind = rng.choice(["none", "lake", "sea"], p=[0.4, 0.4, 0.2])
    ground = 1.0 - scene.horizon
    below = y >= scene.horizon
    if kind == "lake":
        cx, cy = rng.uniform(0.15, 0.85), scene.horizon + rng.uniform(0.08, 0.5) * ground
        rx = rng.uniform(0.2, 0.6)
        ry = min(rx * 0.35, (cy - scene.horizon) * rng.uniform(0.6, 1.3))
        shore = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2) + 0.5 * (rough - 0.5)
        water, beach = below & (shore < 1.0), below & (shore < 1.0 + rng.uniform(0.12, 0.35))
    elif kind == "sea":
        width = scene.label.shape[1]
        coast = scene.horizon + ground * (rng.uniform(0.15, 0.55) + 0.15 * (noise.profile(rng, width, cells=3) - 0.5))
        band = ground * rng.uniform(0.05, 0.15) * (0.5 + noise.profile(rng, width, cells=6))
        water, beach = below & (y < coast), below & (y < coast + band)
    else:
        return
    if sandy_shore:
        scene.label[beach] = SAND
    scene.label[water] = WATER


def trees(rng: np.random.Generator, horizon: float, conifer_only: bool) -> Placed:
    """0-3 tree lines as (base row, painter) pairs: bumpy (broadleaf) or spiky (conifer) canopies on ground."""
    count = rng.choice(4, p=[0.3, 0.35, 0.2, 0.15])
    lines = []
    for _ in range(count):
        base = horizon + rng.uniform(0.0, 1.0) ** 1.5 * (1.02 - horizon) + 0.01
        near = (base - horizon) / (1.0 - horizon)
        tall = min((base - horizon) * rng.uniform(0.7, 1.6) + 0.015, 0.45)
        conifer = conifer_only or rng.random() < 0.4
        span = rng.uniform(0.2, 1.1) * (1.0 - 0.6 * near)
        start = rng.uniform(-0.1, 1.0 - span * 0.5)
        half = tall * (rng.uniform(0.1, 0.2) if conifer else rng.uniform(0.15, 0.3))
        crowns = int(np.ceil(span / half * 1.3)) + 1
        centres = np.sort(rng.uniform(start, start + span, crowns)).astype(np.float32)
        sizes = rng.uniform(0.5, 1.0, crowns).astype(np.float32)
        lines.append((base, tree_line_painter(base, tall, half, centres, sizes, conifer)))
    return lines


def tree_line_painter(base: float, tall: float, half: float, centres: np.ndarray, sizes: np.ndarray,
                      conifer: bool) -> Painter:
    """Paint trees whose crowns (one per centre) rise `tall` above `base`, never standing in water."""

    def paint(scene: Scene, y: np.ndarray, x: np.ndarray) -> None:
        """Draw the tree line into scene (label, far, height, slope)."""
        u = (x[0][None, :] - centres[:, None]) / half  # (crowns, W): where each column sits inside each crown
        shape = np.maximum(1.0 - np.abs(u), 0.0) if conifer else np.sqrt(np.maximum(1.0 - u * u, 0.0))
        canopy = (sizes[:, None] * shape).max(axis=0)  # (W,)
        top = base - tall * ((0.1 + 0.9 * canopy) if conifer else (0.45 + 0.55 * canopy))
        row = min(int(base * scene.label.shape[0]), scene.label.shape[0] - 1)
        standing = (canopy > 0) & (scene.label[row] != WATER)
        rows = slice(max(int((base - tall) * scene.label.shape[0]), 0), row + 1)  # the rows the crowns can reach
        tree = standing & (y[rows] >= top) & (y[rows] < base)
        scene.label[rows][tree] = TREE
        scene.far[rows][tree] = ground_far(base, scene.horizon)
        scene.height[rows] = np.where(tree, (y[rows] - top) / (base - top), scene.height[rows])
        scene.slope[rows] = np.where(tree, np.gradient(top) * len(top), scene.slope[rows])

    return paint


def rocks(rng: np.random.Generator, horizon: float, many: bool) -> Placed:
    """0-4 boulders (more in the desert) as (base row, painter) pairs, bigger the nearer they sit."""
    count = rng.choice(5, p=[0.2, 0.2, 0.25, 0.2, 0.15] if many else [0.45, 0.25, 0.15, 0.1, 0.05])
    stones = []
    for _ in range(count):
        base = horizon + rng.uniform(0.05, 1.0) * (1.08 - horizon)
        radius = (base - horizon) * rng.uniform(0.12, 0.4) + 0.008
        wobble = rng.uniform(-WOBBLE, WOBBLE, 3), rng.uniform(0, 2 * np.pi, 3)
        stones.append((base, rock_painter(base, rng.uniform(0.0, 1.0), radius, wobble)))
    return stones


def rock_painter(base: float, cx: float, radius: float, wobble: tuple[np.ndarray, np.ndarray]) -> Painter:
    """Paint a half-buried boulder: a lumpy ellipse (radius wobbling with angle) cut flat at `base`."""

    def paint(scene: Scene, y: np.ndarray, x: np.ndarray) -> None:
        """Draw the boulder into scene (label, far, height, slope)."""
        size = scene.label.shape[0]
        reach = (1.0 + 3 * WOBBLE) * radius  # the farthest the wobbling edge gets from the centre, vertically
        rows = slice(max(int((base - reach) * size) - 1, 0), min(int(base * size) + 1, size))
        cols = slice(max(int((cx - WIDE * reach) * size) - 1, 0), min(int((cx + WIDE * reach) * size) + 2, size))
        dx, dy = (x[:, cols] - cx) / (WIDE * radius), (y[rows] - base) / radius
        angle = np.arctan2(dy, dx)
        edge = 1.0 + sum(a * np.cos((k + 2) * angle + p) for k, (a, p) in enumerate(zip(*wobble)))
        stone = (dx * dx + dy * dy < edge * edge) & (y[rows] < base)
        scene.label[rows, cols][stone] = ROCK
        scene.far[rows, cols][stone] = ground_far(base, scene.horizon)
        scene.height[rows, cols][stone] = np.broadcast_to(np.clip(1.0 + dy, 0.0, 1.0), stone.shape)[stone]
        scene.slope[rows, cols][stone] = np.broadcast_to(dx, stone.shape)[stone]

    return paint

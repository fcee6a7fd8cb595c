"""Paint a landscape layout into an RGB image: per-class texture and shading, sky, water reflections, haze."""

from __future__ import annotations

import numpy as np

from spade_lesson.data import noise
from spade_lesson.data.scene import GRASS, ROCK, SKY, TREE, WATER, Scene, grid
from spade_lesson.data.style import Style

# the colour of each class's material under white light, in the order of scene.CLASS_NAMES (sky is painted apart)
MATERIALS = np.array([
    (0.0, 0.0, 0.0),  # sky
    (0.95, 0.95, 0.97),  # cloud
    (0.45, 0.4, 0.37),  # mountain
    (0.93, 0.95, 1.0),  # snow
    (0.5, 0.47, 0.43),  # rock
    (0.08, 0.2, 0.27),  # water
    (0.32, 0.55, 0.16),  # grass
    (0.1, 0.3, 0.1),  # tree
    (0.88, 0.77, 0.55),  # sand
], dtype=np.float32)
DRY = {GRASS: ((0.66, 0.6, 0.3), 1.0), TREE: ((0.55, 0.33, 0.1), 2.0)}  # dry colour, exponent on the season (late)

# per class: how lit a pixel is = base + relief * facing + crest * (1 - height) + the weighted sum of three textures
SHADING = np.array([
    # base, relief, crest, blotches, streaks, grain
    (1.0, 0.0, 0.0, 0.0, 0.0, 0.0),  # sky
    (0.55, 0.0, 0.45, 0.3, 0.0, 0.0),  # cloud: bright tops, grey bellies
    (0.35, 0.55, 0.25, 0.15, 0.0, 0.1),  # mountain
    (0.55, 0.45, 0.2, 0.1, 0.0, 0.05),  # snow
    (0.3, 0.5, 0.45, 0.2, 0.0, 0.3),  # rock
    (0.6, 0.0, 0.0, 0.0, 0.0, 0.0),  # water: mostly reflection, see reflect()
    (0.7, 0.0, 0.0, 0.2, 0.3, 0.12),  # grass
    (0.2, 0.25, 0.55, 0.25, 0.0, 0.5),  # tree
    (0.78, 0.0, 0.0, 0.1, 0.25, 0.1),  # sand
], dtype=np.float32)
GLOW = {"day": 0.25, "golden hour": 0.9, "dusk": 0.7, "night": 0.15}  # brightness of the halo around sun or moon


def paint(scene: Scene, style: Style, rng: np.random.Generator) -> np.ndarray:
    """Scene + style -> (3, H, W) float32 image in [0, 1]; rng draws the textures."""
    size = scene.label.shape[0]
    y, x = grid(size)
    label = scene.label
    textures = (noise.field(rng, size, size, cells=8, octaves=3),  # blotches
                noise.field(rng, size, size, cells=16, octaves=3, aspect=4.0),  # streaks along the ground
                noise.field(rng, size, size, cells=48, octaves=1))  # grain
    gullies = 1.0 - np.abs(2.0 * noise.field(rng, size, size, cells=4, octaves=4, aspect=0.7) - 1.0)  # rock creases
    lit = np.clip(shading(scene, style, textures, gullies), 0.0, 1.2)
    material = albedo(style).T  # (3, num_classes)
    in_shadow, in_sun = material * style.shadow[:, None], material * (style.sunlight - style.shadow)[:, None]
    color = in_shadow[:, label] + in_sun[:, label] * lit  # (3, H, W): the material under shadow-to-sun light
    fog = style.haze * scene.far * scene.far * scene.far
    color += (style.sky_horizon[:, None, None] - color) * fog  # atmospheric perspective: far things fade to the haze
    above = slice(0, min(int(np.ceil(scene.horizon * size)), size))  # the only rows that can hold sky
    sky_pixels = label[above] == SKY
    color[:, above][:, sky_pixels] = sky(scene, style, y[above], x, rng)[:, sky_pixels]
    below = slice(int(scene.horizon * size), size)  # the only rows that can hold water
    water = label[below] == WATER
    if water.any():
        color[:, below][:, water] = reflect(scene, style, color, below, rng)[:, water]
    return grade(color, style, y, x)


def albedo(style: Style) -> np.ndarray:
    """(num_classes, 3) material colours for this style: grass (then trees) dried by the season, the palette shift."""
    colors = MATERIALS.copy()
    for index, (dry, lateness) in DRY.items():
        colors[index] += style.season**lateness * (np.asarray(dry, dtype=np.float32) - colors[index])
    return colors * style.tint


def shading(scene: Scene, style: Style, textures: tuple[np.ndarray, ...], gullies: np.ndarray) -> np.ndarray:
    """(H, W) how much sunlight each pixel catches: faces and gullies turned to the sun, lit crests, textures."""
    size = scene.label.shape[0]
    creases = np.zeros_like(gullies)
    creases[:, 1:-1] = (gullies[:, 2:] - gullies[:, :-2]) * (size / 2.0)  # d(gullies)/dx, per image width
    side = 1.0 if style.sun[0] > 0.5 else -1.0
    y, _ = grid(size)
    upright = (y < scene.horizon) | (scene.label == TREE) | (scene.label == ROCK)  # everything else lies flat
    faces = np.tanh(1.5 * side * scene.slope) * (1.0 - scene.height) ** 1.5  # faces below a crest, fading downhill
    facing = upright * (0.6 * faces + 0.4 * np.tanh(0.08 * side * creases))
    base, relief, crest, *texture_weights = SHADING.T[:, scene.label]  # six (H, W) maps
    lit = base + relief * facing + crest * (1.0 - scene.height)
    for weight, texture in zip(texture_weights, textures):
        lit += weight * (2.0 * texture - 1.0)
    return lit


def sky(scene: Scene, style: Style, y: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(3, len(y), W) sky: zenith-to-horizon gradient, a halo and disk for the sun or moon, stars at night."""
    t = np.clip(y / scene.horizon, 0.0, 1.0) ** 2
    sun_x, sun_y = style.sun[0], scene.horizon * (1.0 - style.sun[1])
    across, down = (x - sun_x) ** 2, (y - sun_y) ** 2
    halo = GLOW[style.time_of_day] * np.exp(-across / 0.02) * np.exp(-down / 0.02)  # a Gaussian, split in x and y
    light = halo + ((across + down) < 0.035**2)  # the halo plus the disk
    if style.time_of_day == "night":
        light += (rng.random(halo.shape, dtype=np.float32) > 0.996) * (1.0 - t) * 0.8  # stars, fading to the horizon
    tint = style.sunlight if style.time_of_day != "night" else np.full(3, 0.9, dtype=np.float32)
    gradient = style.sky_top[:, None, None] + (style.sky_horizon - style.sky_top)[:, None, None] * t
    return gradient + light * tint[:, None, None]


def reflect(scene: Scene, style: Style, color: np.ndarray, below: slice, rng: np.random.Generator) -> np.ndarray:
    """(3, rows below, W) water: the image mirrored about the horizon, broken by horizontal ripples, plus glitter."""
    size = scene.label.shape[0]
    rows = np.arange(below.start, size)
    ripples = noise.field(rng, len(rows), size, cells=16, octaves=2, aspect=8)
    far = scene.far[below]
    mirror = np.clip((2.0 * scene.horizon * size - rows - 1).astype(np.int64), 0, size - 1)
    shift = ((ripples - 0.5) * 0.1 * size * (1.0 - far)).astype(np.int64)
    cols = np.clip(np.arange(size) + shift, 0, size - 1)
    mirrored = color[:, mirror[:, None], cols]
    fresnel = 0.35 + 0.5 * far  # water mirrors more at grazing angles, i.e. far away
    own = (albedo(style)[WATER] * (style.shadow + (style.sunlight - style.shadow) * 0.6))[:, None, None]
    _, x = grid(size)
    glitter = GLOW[style.time_of_day] * np.exp(-((x - style.sun[0]) / 0.05) ** 2) * (ripples > 0.55)
    return (own + (0.9 * mirrored - own) * fresnel) * (0.85 + 0.3 * ripples) + glitter * style.sunlight[:, None, None]


def grade(color: np.ndarray, style: Style, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Final look of a (3, H, W) image: saturation, a soft vignette, clipped to [0, 1]."""
    luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    vignette = 1.0 - 0.35 * ((x - 0.5) ** 2 + (y - 0.5) ** 2)
    # vignette * (luminance + saturation * (color - luminance)), arranged to touch the 3 channels only twice
    color *= vignette * style.saturation
    color += luminance * vignette * (1.0 - style.saturation)
    return np.clip(color, 0.0, 1.0, out=color)

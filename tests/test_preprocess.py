"""The official preprocessing modes: output sizes as data/base_dataset.py computes them, and one random crop/flip
shared by a label map, its instance map and its image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from spade_lesson.data.errors import DatasetError
from spade_lesson.data.preprocess import Crop, Preprocess

NEAREST = Image.Resampling.NEAREST


def coded(width: int, height: int) -> np.ndarray:
    """(H, W) uint8 ids that name their own column band: 8 vertical bands 0..7, so a crop or flip shows in the ids."""
    return np.tile((np.arange(width) * 8 // width).astype(np.uint8), (height, 1))


@pytest.mark.parametrize("preprocess, source, expected", [
    (Preprocess("resize_and_crop", crop_size=256, load_size=286), (500, 375), (256, 256)),
    (Preprocess("scale_width_and_crop", crop_size=64, load_size=96), (400, 300), (64, 64)),
    (Preprocess("fixed", crop_size=512, aspect_ratio=2.0), (2048, 1024), (512, 256)),
    (Preprocess("fixed", crop_size=64, aspect_ratio=4 / 3), (100, 100), (64, 48)),
    (Preprocess("none"), (100, 70), (96, 64)),  # rounded to multiples of 32 (official __make_power_2, base 32)
])
def test_output_sizes(preprocess: Preprocess, source: tuple[int, int], expected: tuple[int, int]) -> None:
    picture = Image.new("RGB", source)
    assert preprocess.apply(picture, preprocess.draw(*source), Image.Resampling.BICUBIC).size == expected


def test_resized_sizes_follow_the_official_formulas() -> None:
    assert Preprocess("resize_and_crop", crop_size=256, load_size=286).resized(500, 375) == (286, 286)
    assert Preprocess("scale_width_and_crop", crop_size=256, load_size=286).resized(400, 300) == (286, 214)
    assert Preprocess("fixed", crop_size=512, aspect_ratio=2.0).resized(7, 9) == (512, 256)


def test_crop_past_the_edge_fills_labels_with_dont_care() -> None:
    # a 2:1 picture scaled to width 64 is 32 high: the 64 x 64 crop's lower half lies past the edge
    preprocess = Preprocess("scale_width_and_crop", crop_size=64, load_size=64)
    label = preprocess.apply(Image.fromarray(coded(128, 64)), preprocess.draw(128, 64), NEAREST, fill=255)
    ids = np.asarray(label)
    assert ids.shape == (64, 64) and (ids[32:] == 255).all() and (ids[:32] < 8).all()


def test_label_instance_and_image_get_the_same_crop_and_flip() -> None:
    preprocess = Preprocess("resize_and_crop", crop_size=48, load_size=64, flip=True)
    ids = coded(64, 64)
    picture = Image.fromarray(np.stack([ids * 30] * 3, axis=-1))  # the image shows the same bands
    instance = Image.fromarray(ids.astype(np.int32) * 1000)  # a 32-bit instance map ("I" mode), as Cityscapes'
    flips = set()
    generator = torch.Generator().manual_seed(0)
    for _ in range(12):
        crop = preprocess.draw(64, 64, generator=generator)
        flips.add(crop.flip)
        label = np.asarray(preprocess.apply(Image.fromarray(ids), crop, NEAREST, fill=255))
        inst = np.asarray(preprocess.apply(instance, crop, NEAREST))
        image = np.asarray(preprocess.apply(picture, crop, NEAREST))
        assert np.array_equal(inst, label.astype(np.int32) * 1000)
        assert np.array_equal(image[..., 0], label * 30)
        expected = ids[crop.y:crop.y + 48, crop.x:crop.x + 48]
        assert np.array_equal(label, expected[:, ::-1] if crop.flip else expected)
    assert flips == {True, False}


def test_no_flip_unless_asked() -> None:
    generator = torch.Generator().manual_seed(0)
    assert not any(Preprocess("fixed", crop_size=8).draw(8, 8, generator=generator).flip for _ in range(20))


def test_nearest_keeps_ids_exact() -> None:
    preprocess = Preprocess("fixed", crop_size=37, aspect_ratio=37 / 23)
    label = np.asarray(preprocess.apply(Image.fromarray(coded(64, 40)), Crop(), NEAREST))
    assert label.shape == (23, 37) and set(np.unique(label)) <= set(range(8))


def test_resize_to_is_the_plain_resize() -> None:
    assert Preprocess.resize_to((12, 24)).resized(100, 100) == (24, 12)


@pytest.mark.parametrize("options, named", [
    ({"mode": "crop"}, "mode='crop'"), ({"crop_size": 0}, "crop_size=0"), ({"load_size": 2.5}, "load_size=2.5"),
    ({"aspect_ratio": 0.0}, "aspect_ratio=0.0"), ({"aspect_ratio": float("inf")}, "aspect_ratio=inf"),
    ({"mode": "resize_and_crop", "crop_size": 256, "load_size": 128}, "load_size=128"),
])
def test_bad_options_are_one_line(options: dict, named: str) -> None:
    with pytest.raises(DatasetError) as error:
        Preprocess(**options)
    assert named in str(error.value) and "\n" not in str(error.value)

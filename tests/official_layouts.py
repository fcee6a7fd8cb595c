"""Small dataset trees in the official layouts (COCO-Stuff, ADE20K, Cityscapes), with instance maps and don't-care
pixels, built for the tests (tests/test_pairs.py reads them; training tests can use them too)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SHAPE = (12, 16)  # (H, W) of every file here


def picture(path: Path, seed: int) -> None:
    """A random RGB picture at path (JPEG or PNG by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)).save(path)


def ids_png(path: Path, values: list[int], dtype=np.uint8) -> np.ndarray:
    """A single-channel PNG cycling through values (uint16 for ids past 255); returns the array."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.resize(np.array(values, dtype=dtype), SHAPE)
    Image.fromarray(array).save(path)
    return array


def cocostuff(root: Path) -> Path:
    """The official repository's COCO-Stuff layout: {train,val}_{img,label,inst}/ with ids 0..181 and 255."""
    for split in ("train", "val"):
        for k, stem in enumerate(("000000000009", "000000000025")):
            picture(root / f"{split}_img" / f"{stem}.jpg", k)
            ids_png(root / f"{split}_label" / f"{stem}.png", [0, 181, 255, 91])
            ids_png(root / f"{split}_inst" / f"{stem}.png", [0, 1, 2, 300], dtype=np.uint16)
    return root


def ade20k(root: Path) -> Path:
    """ADEChallengeData2016/images|annotations/training|validation, 0 = other (don't care), 1..150 the classes."""
    top = root / "ADEChallengeData2016"
    for split, short in (("training", "train"), ("validation", "val")):
        stem = f"ADE_{short}_00000001"
        picture(top / "images" / split / f"{stem}.jpg", 3)
        ids_png(top / "annotations" / split / f"{stem}.png", [0, 1, 150, 2])
    return root


def cityscapes(root: Path) -> Path:
    """leftImg8bit/<split>/<city>/ with gtFine/<split>/<city>/*_labelIds.png and *_instanceIds.png."""
    for split, city in (("train", "aachen"), ("val", "frankfurt")):
        stem = f"{city}_000000_000019"
        picture(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", 4)
        ids_png(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", [0, 7, 26, 33])
        ids_png(root / "gtFine" / split / city / f"{stem}_gtFine_instanceIds.png", [0, 7, 26001, 26002],
                dtype=np.uint16)
        ids_png(root / "gtFine" / split / city / f"{stem}_gtFine_color.png", [1])  # ignored
    return root

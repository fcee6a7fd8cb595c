"""Preparing a dataset: check every image/label(/instance) triple, write the prepared layout, mark it complete."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from spade_lesson.data import layout
from spade_lesson.data.decode import check_ids, opened, read_ids, read_instance
from spade_lesson.data.errors import DatasetError, DownloadError
from spade_lesson.data.layout import IMAGES, INSTANCES, LABEL_SUFFIX, LABELS
from spade_lesson.data.metadata import Metadata, parse_metadata
from spade_lesson.data.palette import default_class_names, default_palette
from spade_lesson.data.semantic import IGNORE_INDEX
from spade_lesson.runtime.atomic import write_text


@dataclass(frozen=True)
class Pair:
    """One training example's files: image, label, and (where the dataset has them) instance ids."""

    stem: str
    image: Path
    label: Path
    instance: Path | None = None


@dataclass(frozen=True)
class Plan:
    """What a preparation writes: the pairs per split, how label ids map, and the dataset.json facts."""

    pairs: dict[str, list[Pair]]
    lut: np.ndarray | None  # (256,) uint8 source id -> our class id (255 = don't care); None keeps ids as they are
    metadata: Metadata | None  # None: default class names up to the largest id the labels hold, default palette
    source: str
    move_images: bool  # images may be moved (they live in our own extraction folder) rather than copied


def pairs_in(images: Path, labels: Path, origin: str, suffixes: tuple[str, ...] = layout.IMAGE_SUFFIXES,
             instances: Path | None = None) -> list[Pair]:
    """A Pair for every images/<stem><suffix>, whose label must be labels/<stem>.png (instances/<stem>.png if any)."""
    found = sorted(p for p in images.iterdir() if p.suffix.lower() in suffixes) if images.is_dir() else []
    if not found:
        raise DownloadError(f"{origin}: no images found in {images.name}/; is this the right archive?")
    twins = sorted(stem for stem, count in Counter(p.stem for p in found).items() if count > 1)
    if twins:
        raise DownloadError(f"{origin}: several images share the stem {twins[0]!r} in {images.name}/; keep one each")
    missing = [p for p in found if not (labels / f"{p.stem}{LABEL_SUFFIX}").is_file()]
    if missing:
        raise DownloadError(f"{origin}: {len(missing)} image(s) without a label, e.g. {images.name}/{missing[0].name} "
                            f"has no {labels.name}/{missing[0].stem}.png; every image needs a label PNG of its stem")
    if instances is not None:
        lacking = [p for p in found if not (instances / f"{p.stem}{LABEL_SUFFIX}").is_file()]
        if lacking:
            raise DownloadError(f"{origin}: {len(lacking)} image(s) without an instance map, e.g. {lacking[0].name} "
                                f"has no {instances.name}/{lacking[0].stem}.png; give every image one, or none")
    return [Pair(p.stem, p, labels / f"{p.stem}{LABEL_SUFFIX}",
                 instances / f"{p.stem}{LABEL_SUFFIX}" if instances is not None else None) for p in found]


def _write_image(src: Path, folder: Path, stem: str, move: bool) -> tuple[int, int]:
    """Put src, fully decoded first, in folder as <stem>.jpg or .png (moved or copied when already an RGB JPEG/PNG,
    else converted); returns its (width, height)."""
    with opened(src, "image") as image:
        converted = None if image.mode == "RGB" and image.format in ("JPEG", "PNG") else image.convert("RGB")
        suffix = ".jpg" if image.format == "JPEG" else ".png"
    if converted is None:
        (os.replace if move else shutil.copyfile)(src, folder / f"{stem}{suffix}")
    else:  # written outside opened(): a full disk is an OSError of its own, not "cannot read this image"
        converted.save(folder / f"{stem}.png")
    return image.size


def _label_ids(src: Path, lut: np.ndarray | None) -> np.ndarray:
    """src's 8-bit class ids mapped through lut."""
    ids, mode = read_ids(src)
    if mode not in ("L", "P"):
        raise DatasetError(f"{src}: label PNG has mode {mode}; labels must be single-channel 8-bit PNGs of class ids "
                           f"(255 = don't care)")
    return ids if lut is None else lut[ids]


def _write_pair(pair: Pair, out: Path, plan: Plan) -> np.ndarray:
    """Check and write one pair into out (a split folder); returns which of the 256 label values occur in it."""
    width, height = _write_image(pair.image, out / IMAGES, pair.stem, plan.move_images)
    ids = _label_ids(pair.label, plan.lut)
    if plan.metadata is not None:
        check_ids(ids, pair.label, len(plan.metadata.class_names))
    maps = [(pair.label, ids, out / LABELS)]
    if pair.instance is not None:
        instance = read_instance(pair.instance)
        maps.append((pair.instance, instance.astype(np.uint16 if instance.max(initial=0) > 255 else np.uint8),
                     out / INSTANCES))
    for src, values, folder in maps:
        if values.shape != (height, width):
            raise DatasetError(f"{src}: is {values.shape[1]}x{values.shape[0]} but its image {pair.image} is "
                               f"{width}x{height}; an image and its maps must have the same size")
        Image.fromarray(values).save(folder / f"{pair.stem}{LABEL_SUFFIX}")
    return np.bincount(ids.ravel(), minlength=256) > 0


def _dataset_json(plan: Plan, seen: np.ndarray, name: str) -> str:
    """The dataset.json text: the plan's classes, or default ones up to the largest id seen; checked like any other."""
    ids = np.flatnonzero(seen[:IGNORE_INDEX])
    if ids.size == 0:
        raise DownloadError(f"{plan.source}: every label pixel is 255 (don't care); labels must hold class ids 0..C-1")
    names = plan.metadata.class_names if plan.metadata else default_class_names(int(ids.max()) + 1)
    palette = plan.metadata.palette if plan.metadata and plan.metadata.palette else default_palette(len(names))
    info = {layout.NAME: name, layout.CLASS_NAMES: list(names), layout.PALETTE: [list(color) for color in palette],
            layout.IGNORE: IGNORE_INDEX, layout.SOURCE: plan.source}
    parse_metadata(info, f"{plan.source} ({layout.DATASET_JSON})")
    # indented JSON, each palette colour kept on one line as [r, g, b]
    return re.sub(r"\[\s+(\d+),\s+(\d+),\s+(\d+)\s+\]", r"[\1, \2, \3]", json.dumps(info, indent=1)) + "\n"


def write_dataset(plan: Plan, out: Path, name: str) -> dict[str, int]:
    """Check and write every split of plan into out, then dataset.json, then the marker; returns pairs per split."""
    seen = np.zeros(256, dtype=bool)
    for split, pairs in plan.pairs.items():
        folders = (IMAGES, LABELS) + ((INSTANCES,) if any(pair.instance for pair in pairs) else ())
        for folder in folders:
            (out / split / folder).mkdir(parents=True)
        for pair in tqdm(pairs, desc=f"writing {name}/{split}", unit="pair"):
            seen |= _write_pair(pair, out / split, plan)
    write_text(out / layout.DATASET_JSON, _dataset_json(plan, seen, name))
    counts = {split: len(pairs) for split, pairs in plan.pairs.items()}
    write_text(out / layout.MARKER, json.dumps(counts) + "\n")
    return counts


def build(root: Path, name: str, make_plan: Callable[[Path], Plan]) -> None:
    """Prepare <root>/<name> in the staging folder <root>/.<name>.partial and rename it into place when complete."""
    staging = root / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "sources").mkdir(parents=True)
    try:
        plan = make_plan(staging / "sources")
        counts = write_dataset(plan, staging / name, name)
        os.replace(staging / name, root / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"prepared: {root / name} ({', '.join(f'{split}: {n}' for split, n in counts.items())} image/label pairs)")

"""COCO-Stuff, the paper's main dataset: COCO 2017 images, stuffthingmaps labels, instance maps drawn from COCO's
instance annotations (as the official code's instance maps are)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from spade_lesson.data.classes import COCOSTUFF_CLASSES
from spade_lesson.data.download.extract import extract
from spade_lesson.data.download.prepare import Pair, Plan, pairs_in
from spade_lesson.data.errors import DownloadError
from spade_lesson.data.layout import SPLITS
from spade_lesson.data.metadata import Metadata

# the addresses cocostuff's README gives (served over plain http there)
COCOSTUFF_URLS = (
    "http://images.cocodataset.org/zips/train2017.zip",
    "http://images.cocodataset.org/zips/val2017.zip",
    "http://calvin.inf.ed.ac.uk/wp-content/uploads/data/cocostuffdataset/stuffthingmaps_trainval2017.zip",
    "http://images.cocodataset.org/annotations/annotations_trainval2017.zip",
)


def rle_mask(counts: list[int], height: int, width: int) -> np.ndarray:
    """COCO's uncompressed run-length encoding (runs of 0, 1, 0, ... in column-major order) -> (H, W) bool."""
    flat = np.repeat(np.arange(len(counts)) % 2 == 1, counts)
    flat = np.pad(flat, (0, max(0, height * width - flat.size)))[: height * width]
    return flat.reshape(width, height).T


def instance_map(annotations: list[dict], height: int, width: int) -> np.ndarray:
    """(H, W) int32 instance ids: annotation k (1-based, in file order) where its polygons or mask cover, else 0."""
    canvas = Image.new("I", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    masks = []
    for number, annotation in enumerate(annotations, start=1):
        segmentation = annotation.get("segmentation")
        if isinstance(segmentation, list):
            for polygon in segmentation:
                if len(polygon) >= 6:
                    draw.polygon([(float(x), float(y)) for x, y in zip(polygon[::2], polygon[1::2])], fill=number)
        elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
            masks.append((number, rle_mask(segmentation["counts"], height, width)))
    ids = np.asarray(canvas, dtype=np.int32).copy()
    for number, mask in masks:
        ids[mask] = number
    return ids


def write_instance_maps(annotation_file: Path, stems: set[str], out: Path) -> None:
    """Draw out/<stem>.png for every image of annotation_file (COCO instances JSON) whose stem is in stems."""
    try:
        coco = json.loads(annotation_file.read_text(encoding="utf-8"))
        images = {image["id"]: image for image in coco["images"]}
        by_image = defaultdict(list)
        for annotation in coco["annotations"]:
            by_image[annotation["image_id"]].append(annotation)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DownloadError(f"{annotation_file}: not a COCO instances file ({error!r}); download "
                            f"annotations_trainval2017.zip again") from None
    out.mkdir(parents=True)
    for image_id, image in tqdm(images.items(), desc=f"drawing {annotation_file.stem}", unit="map"):
        stem = Path(image["file_name"]).stem
        if stem in stems:
            ids = instance_map(by_image.get(image_id, []), image["height"], image["width"])
            Image.fromarray(ids.astype(np.uint16 if ids.max(initial=0) > 255 else np.uint8)).save(out / f"{stem}.png")
    missing = sorted(stems - {path.stem for path in out.iterdir()})  # an image without annotations still has a map
    if missing:
        raise DownloadError(f"{annotation_file}: lists no image {missing[0]}.jpg; are the images and annotations both "
                            f"from COCO 2017?")


def cocostuff_plan(archives: list[Path], sources: Path) -> Plan:
    """COCO-Stuff 2017: {train,val}2017 images, stuffthingmaps ids 0..181 kept (255 = unlabeled), instance maps."""
    train_zip, val_zip, maps_zip, annotations_zip = archives
    maps = extract(maps_zip, sources / "stuffthingmaps")
    notes = extract(annotations_zip, sources / "annotations",
                    lambda name: name in {f"annotations/instances_{split}2017.json" for split in SPLITS})
    pairs = {}
    for split, archive in zip(SPLITS, (train_zip, val_zip)):
        images = extract(archive, sources / f"images_{split}") / f"{split}2017"
        found = pairs_in(images, maps / f"{split}2017", f"{archive} + {maps_zip.name}", suffixes=(".jpg",))
        folder = sources / f"instances_{split}"
        write_instance_maps(notes / "annotations" / f"instances_{split}2017.json", {p.stem for p in found}, folder)
        pairs[split] = [Pair(p.stem, p.image, p.label, folder / f"{p.stem}.png") for p in found]
    return Plan(pairs, None, Metadata(list(COCOSTUFF_CLASSES), None),
                "COCO-Stuff 2017 (images, stuffthingmaps, instance maps from COCO's instance annotations): "
                + ", ".join(COCOSTUFF_URLS), move_images=True)

"""COCO-Stuff, the paper's main dataset: COCO 2017 images, stuffthingmaps labels, and instance maps drawn from COCO's
instance annotations over the label map, as the official code makes them."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from spade_lesson.data.classes import COCOSTUFF_CLASSES
from spade_lesson.data.decode import read_ids
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


def instance_map(annotations: list[dict], label: np.ndarray) -> np.ndarray:
    """(H, W) int32 instance map as the official datasets/coco_generate_instance_map.py draws it: the label map, with
    the polygons of the k-th polygon annotation (k from 0, in file order, coordinates shifted by -1) painted k;
    run-length (crowd) annotations are skipped there, and here."""
    canvas = Image.fromarray(label.astype(np.int32))
    draw = ImageDraw.Draw(canvas)
    polygons = [a["segmentation"] for a in annotations if isinstance(a.get("segmentation"), list)]
    for number, segmentation in enumerate(polygons):
        for polygon in segmentation:
            if len(polygon) >= 6:
                draw.polygon([(float(x) - 1, float(y) - 1) for x, y in zip(polygon[::2], polygon[1::2])], fill=number)
    return np.asarray(canvas, dtype=np.int32)


def write_instance_maps(annotation_file: Path, labels: dict[str, Path], out: Path) -> None:
    """Draw out/<stem>.png for every image of annotation_file (COCO instances JSON) whose stem is in labels (its
    stuffthingmaps label file)."""
    try:
        coco = json.loads(annotation_file.read_text(encoding="utf-8"))
        images = {Path(image["file_name"]).stem: image["id"] for image in coco["images"]}
        by_image = defaultdict(list)
        for annotation in coco["annotations"]:
            by_image[annotation["image_id"]].append(annotation)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DownloadError(f"{annotation_file}: not a COCO instances file ({error!r}); download "
                            f"annotations_trainval2017.zip again") from None
    missing = sorted(labels.keys() - images.keys())
    if missing:
        raise DownloadError(f"{annotation_file}: lists no image {missing[0]}.jpg; are the images and annotations both "
                            f"from COCO 2017?")
    out.mkdir(parents=True)
    for stem, label_path in tqdm(labels.items(), desc=f"drawing {annotation_file.stem}", unit="map"):
        ids = instance_map(by_image.get(images[stem], []), read_ids(label_path)[0])
        Image.fromarray(ids.astype(np.uint16 if ids.max(initial=0) > 255 else np.uint8)).save(out / f"{stem}.png")


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
        write_instance_maps(notes / "annotations" / f"instances_{split}2017.json", {p.stem: p.label for p in found},
                            folder)
        pairs[split] = [Pair(p.stem, p.image, p.label, folder / f"{p.stem}.png") for p in found]
    return Plan(pairs, None, Metadata(list(COCOSTUFF_CLASSES), None),
                "COCO-Stuff 2017 (images, stuffthingmaps, instance maps from COCO's instance annotations): "
                + ", ".join(COCOSTUFF_URLS), move_images=True)

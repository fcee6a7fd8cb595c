"""Where a dataset's files are: image/label(/instance) triples in our prepared layout and in the official COCO-Stuff,
ADE20K and Cityscapes layouts, read in place (no conversion); the layout is detected when only one fits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spade_lesson.data import classes
from spade_lesson.data.errors import DatasetError, DatasetNotFoundError
from spade_lesson.data.layout import IMAGE_SUFFIXES, IMAGES, INSTANCES, LABEL_SUFFIX, LABELS
from spade_lesson.data.metadata import Metadata

LAYOUTS = ("folder", "cocostuff", "ade20k", "cityscapes")
SHOWN = 3  # how many file names an error message lists
ADE20K_TOP, ADE20K_SPLITS = "ADEChallengeData2016", {"train": "training", "val": "validation"}


@dataclass(frozen=True)
class Files:
    """A split's files in matching order, and what the layout says about its label ids."""

    images: list[Path]
    labels: list[Path]
    instances: list[Path] | None  # None: the split has no instance maps
    lut: np.ndarray | None = None  # (256,) source label value -> class id (255 = don't care); None: ids as stored
    known: Metadata | None = None  # the layout's own classes (None: dataset.json, num_classes or the data say)


def by_stem(folder: Path, suffixes: tuple[str, ...], strip: str = "") -> dict[str, Path]:
    """{stem: path} of the files in folder with one of the suffixes (and stem ending, removed, in strip); two files
    with one stem is an error."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in suffixes or not path.stem.endswith(strip):
            continue
        stem = path.stem.removesuffix(strip) if strip else path.stem
        if stem in found:
            raise DatasetError(f"{folder}: both {found[stem].name} and {path.name} have the stem {stem!r}; keep one")
        found[stem] = path
    return found


def match(images: dict[str, Path], labels: dict[str, Path], instances: dict[str, Path] | None, where: str,
          sides: tuple[str, str, str]) -> tuple[list[Path], list[Path], list[Path] | None]:
    """The triples of images, labels (and instances) sharing a stem; any file without its partners is an error."""
    image_side, label_side, instance_side = sides
    groups = [(images, image_side), (labels, label_side)]
    if instances is not None:
        groups.append((instances, instance_side))
    stems = set(images) | set(labels)
    problems = []
    for group, side in groups:
        lonely = sorted(stems - set(group))
        if lonely:
            problems.append(f"{len(lonely)} file(s) lack a partner in {side} ({', '.join(lonely[:SHOWN])}"
                            f"{', ...' if len(lonely) > SHOWN else ''})")
    if problems:
        raise DatasetError(f"{where}: {'; '.join(problems)}; every image needs a label PNG of its stem")
    if not stems:
        raise DatasetError(f"{where}: {image_side} and {label_side} hold no files; add images and their label PNGs")
    order = sorted(stems)
    return ([images[s] for s in order], [labels[s] for s in order],
            [instances[s] for s in order] if instances is not None else None)


def refuse_jpeg_labels(labels: dict[str, Path]) -> None:
    """Labels must be PNG: JPEG compression changes class ids."""
    for stem, path in labels.items():
        if path.suffix.lower() != LABEL_SUFFIX:
            raise DatasetError(f"{path}: labels must be PNG files (JPEG compression changes class ids); "
                               f"re-export it losslessly as {path.parent.name}/{stem}.png")


def folder_split(root: Path, split: str) -> Path:
    """Our layout's folder holding images/ and labels/: <root>/<split>, or <root> itself (a plain folder) for train."""
    for folder in (root / split, root) if split == "train" else (root / split,):
        if (folder / IMAGES).is_dir() and (folder / LABELS).is_dir():
            return folder
    splits = sorted(p.name for p in root.iterdir() if (p / IMAGES).is_dir())
    hint = (f"splits found: {', '.join(splits)}" if splits
            else "a plain folder of images/ + labels/ is the train split" if (root / IMAGES).is_dir()
            else "expected <root>/<split>/images + labels, or images/ + labels/")
    raise DatasetNotFoundError(f"SegmentationFolder: no images/ + labels/ folders for split {split!r} in {root} "
                               f"({hint})")


def folder_files(root: Path, split: str) -> Files:
    """Our layout: <split>/images/<stem>.jpg|.png, <split>/labels/<stem>.png, optional <split>/instances/<stem>.png."""
    folder = folder_split(root, split)
    labels = by_stem(folder / LABELS, IMAGE_SUFFIXES)
    refuse_jpeg_labels(labels)
    instances = by_stem(folder / INSTANCES, (LABEL_SUFFIX,)) if (folder / INSTANCES).is_dir() else None
    return Files(*match(by_stem(folder / IMAGES, IMAGE_SUFFIXES), labels, instances, str(folder),
                        (f"{IMAGES}/", f"{LABELS}/", f"{INSTANCES}/")))


def cocostuff_files(root: Path, split: str) -> Files:
    """The official COCO-Stuff layout: <split>_img/*.jpg, <split>_label/*.png (ids 0..181, 255), <split>_inst/*.png."""
    images, labels, instances = (root / f"{split}_{kind}" for kind in ("img", "label", "inst"))
    if not images.is_dir() or not labels.is_dir():
        raise DatasetNotFoundError(f"{root}: no {images.name}/ and {labels.name}/ folders (the COCO-Stuff layout "
                                   f"of split {split!r})")
    found_labels = by_stem(labels, IMAGE_SUFFIXES)
    refuse_jpeg_labels(found_labels)
    found_instances = by_stem(instances, (LABEL_SUFFIX,)) if instances.is_dir() else None
    triples = match(by_stem(images, IMAGE_SUFFIXES), found_labels, found_instances, str(root),
                    (f"{images.name}/", f"{labels.name}/", f"{instances.name}/"))
    return Files(*triples, known=Metadata(list(classes.COCOSTUFF_CLASSES), None))


def ade20k_top(root: Path) -> Path:
    """The ADEChallengeData2016 folder: root itself or root/ADEChallengeData2016."""
    return root / ADE20K_TOP if (root / ADE20K_TOP).is_dir() else root


def ade20k_files(root: Path, split: str) -> Files:
    """The official ADE20K layout: images/<training|validation>/*.jpg with annotations/.../*.png, 0 = don't care."""
    top = ade20k_top(root)
    if split not in ADE20K_SPLITS:
        raise DatasetNotFoundError(f"{top}: ADE20K has splits train and val (training/, validation/), not {split!r}")
    images, labels = top / "images" / ADE20K_SPLITS[split], top / "annotations" / ADE20K_SPLITS[split]
    if not images.is_dir() or not labels.is_dir():
        raise DatasetNotFoundError(f"{top}: no images/{images.name}/ and annotations/{labels.name}/ (the ADE20K "
                                   f"layout)")
    triples = match(by_stem(images, IMAGE_SUFFIXES), by_stem(labels, (LABEL_SUFFIX,)), None, str(top),
                    (f"images/{images.name}/", f"annotations/{labels.name}/", ""))
    return Files(*triples, lut=classes.ADE20K_LUT, known=Metadata(list(classes.ADE20K_CLASSES), None))


def into(found: dict[str, Path], city: dict[str, Path]) -> None:
    """Add one city folder's {stem: path} to found; a stem already found in another city is an error (the pairs
    are matched by stem, so one image would get another city's label)."""
    for stem, path in city.items():
        if stem in found:
            raise DatasetError(f"{found[stem]} and {path} have the same stem {stem!r} in two city folders; rename or "
                               f"remove one (Cityscapes names every file <city>_<seq>_<frame>)")
        found[stem] = path


def cityscapes_files(root: Path, split: str) -> Files:
    """The official Cityscapes layout: leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png with
    gtFine/<split>/<city>/<stem>_gtFine_labelIds.png and, when present, <stem>_gtFine_instanceIds.png."""
    images, labels = root / "leftImg8bit" / split, root / "gtFine" / split
    if not images.is_dir() or not labels.is_dir():
        raise DatasetNotFoundError(f"{root}: no leftImg8bit/{split}/ and gtFine/{split}/ (the Cityscapes layout)")
    found_images: dict[str, Path] = {}
    found_labels: dict[str, Path] = {}
    found_instances: dict[str, Path] = {}
    for city in sorted(p for p in images.iterdir() if p.is_dir()):
        into(found_images, by_stem(city, (".png",), "_leftImg8bit"))
    for city in sorted(p for p in labels.iterdir() if p.is_dir()):
        into(found_labels, by_stem(city, (".png",), "_gtFine_labelIds"))
        into(found_instances, by_stem(city, (".png",), "_gtFine_instanceIds"))
    triples = match(found_images, found_labels, found_instances or None, str(root),
                    (f"leftImg8bit/{split}/", f"gtFine/{split}/ (*_labelIds.png)", f"gtFine/{split}/ (*_instanceIds)"))
    return Files(*triples, lut=classes.CITYSCAPES_LUT,
                 known=Metadata(list(classes.CITYSCAPES_NAMES), list(classes.CITYSCAPES_PALETTE)))


FINDERS = {"folder": folder_files, "cocostuff": cocostuff_files, "ade20k": ade20k_files,
           "cityscapes": cityscapes_files}


def detect_layout(root: Path) -> str:
    """The one layout root's folders fit; several or none is an error asking for layout=."""
    top = ade20k_top(root)
    signs = {
        "folder": any((folder / IMAGES).is_dir() and (folder / LABELS).is_dir()
                      for folder in (root, *(p for p in root.iterdir() if p.is_dir()))),
        "cocostuff": any((root / f"{split}_img").is_dir() and (root / f"{split}_label").is_dir()
                         for split in ("train", "val")),
        "ade20k": (top / "images").is_dir() and (top / "annotations").is_dir(),
        "cityscapes": (root / "leftImg8bit").is_dir() and (root / "gtFine").is_dir(),
    }
    fits = [name for name, fit in signs.items() if fit]
    if len(fits) == 1:
        return fits[0]
    if fits:
        raise DatasetError(f"{root}: fits several layouts ({', '.join(fits)}); pass layout= one of them")
    raise DatasetNotFoundError(f"{root}: no dataset layout found; expected images/ + labels/ (optionally under "
                               f"train/ and val/), COCO-Stuff's train_img/ + train_label/, ADE20K's "
                               f"{ADE20K_TOP}/images + annotations, or Cityscapes' leftImg8bit/ + gtFine/")


def find_files(root: Path, split: str, layout: str | None = None) -> Files:
    """The split's files in root's layout (detected when layout is None)."""
    if not root.is_dir():
        raise DatasetNotFoundError(f"SegmentationFolder: {root} is not a folder; pass a folder with images/ and "
                                   f"labels/ or an official dataset layout")
    if layout is not None and layout not in LAYOUTS:
        raise DatasetError(f"SegmentationFolder: layout={layout!r}; choose one of {', '.join(LAYOUTS)} (or None to "
                           f"detect it)")
    return FINDERS[layout or detect_layout(root)](root, split)

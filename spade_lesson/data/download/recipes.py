"""The datasets the downloader knows: where their archives are and how their files become a Plan."""

from __future__ import annotations

import json
import re
from pathlib import Path

from spade_lesson.data import classes
from spade_lesson.data.download.extract import extract
from spade_lesson.data.download.fetch import verify
from spade_lesson.data.download.prepare import Pair, Plan, pairs_in
from spade_lesson.data.errors import DatasetError, DownloadError
from spade_lesson.data.layout import DATASET_JSON, IMAGES, INSTANCES, LABELS, SPLITS
from spade_lesson.data.metadata import Metadata, parse_metadata
from spade_lesson.data.pairs import ADE20K_SPLITS, ADE20K_TOP

FACADES_URLS = (
    "https://cmp.felk.cvut.cz/~tylecr1/facade/CMP_facade_DB_base.zip",
    "https://cmp.felk.cvut.cz/~tylecr1/facade/CMP_facade_DB_extended.zip",
)
ADE20K_URL = "https://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip"
# ADE20K-outdoor: the paper's subset of ADE20K's outdoor scenes. Its image list is not published with the official
# code, so this keeps the images whose sceneCategories.txt category is one of these outdoor scenes (an approximation).
ADE20K_OUTDOOR_SCENES = frozenset((
    "street", "highway", "skyscraper", "building_facade", "mountain", "mountain_snowy", "valley", "coast", "beach",
    "field_cultivated", "field_wild", "forest_path", "forest_road", "golf_course", "park", "lake_natural", "river",
    "harbor", "bridge", "tower", "castle", "plaza", "crosswalk", "parking_lot", "driveway", "house", "yard", "garden",
    "desert_sand", "canyon", "hill", "islet", "ocean", "sky", "waterfall_block", "rock_arch", "snowfield",
    "campus", "residential_neighborhood", "downtown", "alley", "gas_station", "railroad_track", "runway", "airfield",
))

CITYSCAPES_SITE = "https://www.cityscapes-dataset.com"
CITYSCAPES_LABELS = ("gtFine_trainvaltest.zip", "gtFine")  # (archive, the folder it unpacks to)
CITYSCAPES_IMAGES = ("leftImg8bit_trainvaltest.zip", "leftImg8bit")


def facades_plan(archives: list[Path], sources: Path) -> Plan:
    """CMP Facades: base/ -> train, extended/ -> val; label index k in 1..12 -> class k - 1, anything else -> 255."""
    pairs = {}
    for split, archive, folder in (("train", archives[0], "base"), ("val", archives[1], "extended")):
        tree = extract(archive, sources / folder) / folder
        pairs[split] = pairs_in(tree, tree, f"{archive} ({folder}/)", suffixes=(".jpg",))
    return Plan(pairs, classes.FACADES_LUT, Metadata(list(classes.FACADES_CLASSES), None),
                "CMP Facade Database (base -> train, extended -> val): " + ", ".join(FACADES_URLS), move_images=True)


def _outdoor(top: Path) -> set[str]:
    """The image stems of ADE20K's sceneCategories.txt ("<stem> <scene>" lines) whose scene is outdoors."""
    listing = top / "sceneCategories.txt"
    if not listing.is_file():
        raise DownloadError(f"{listing}: missing; ade20k-outdoor needs ADEChallengeData2016's scene list")
    lines = (line.split() for line in listing.read_text(encoding="utf-8").splitlines())
    return {words[0] for words in lines if len(words) == 2 and words[1] in ADE20K_OUTDOOR_SCENES}


def ade20k_plan(archives: list[Path], sources: Path, outdoor: bool = False) -> Plan:
    """ADE20K SceneParsing (or its outdoor scenes): annotation 0 (other) -> 255, k -> k - 1 for the 150 classes."""
    top = extract(archives[0], sources / "ade20k") / ADE20K_TOP
    keep = _outdoor(top) if outdoor else None
    pairs = {}
    for split, folder in ADE20K_SPLITS.items():
        found = pairs_in(top / "images" / folder, top / "annotations" / folder,
                         f"{archives[0]} ({ADE20K_TOP}/images/{folder}/)")
        pairs[split] = [pair for pair in found if keep is None or pair.stem in keep]
        if not pairs[split]:
            raise DownloadError(f"{archives[0]}: no {split} image has an outdoor scene in sceneCategories.txt")
    what = "outdoor scenes of ADE20K SceneParsing (an approximation of the paper's ADE20K-outdoor)" if outdoor \
        else "ADE20K SceneParsing"
    return Plan(pairs, classes.ADE20K_LUT, Metadata(list(classes.ADE20K_CLASSES), None),
                f"{what} ({ADE20K_TOP}): {ADE20K_URL}", move_images=True)


def _cityscapes_source(local: Path, archive_and_folder: tuple[str, str], sources: Path,
                       pattern: str) -> tuple[Path, bool]:
    """(folder holding gtFine/ or leftImg8bit/, whether we unpacked it): local's zip verified and unpacked, or local."""
    archive_name, folder = archive_and_folder
    archive = local / archive_name
    if archive.is_file():
        print(f"verifying {archive} ...")
        verify(archive, None, f"download {archive_name} again from {CITYSCAPES_SITE}/downloads/")
        selected = re.compile(pattern)
        return extract(archive, sources / folder, lambda name: selected.fullmatch(name) is not None), True
    return local, False


def cityscapes_plan(local: Path, sources: Path) -> Plan:
    """Cityscapes gtFine: *_labelIds.png ids 0..33 kept as classes (35 as officially), others -> 255; leftImg8bit
    images; *_instanceIds.png instance maps when every label has one."""
    labels_root, _ = _cityscapes_source(local, CITYSCAPES_LABELS, sources,
                                        r"gtFine/(train|val)/[^/]+/[^/]+_gtFine_(labelIds|instanceIds)\.png")
    images_root, ours = _cityscapes_source(local, CITYSCAPES_IMAGES, sources,
                                           r"leftImg8bit/(train|val)/[^/]+/[^/]+_leftImg8bit\.png")
    pairs = {}
    for split in SPLITS:
        found = []
        for label in sorted((labels_root / "gtFine" / split).glob("*/*_gtFine_labelIds.png")):
            stem = label.name.removesuffix("_gtFine_labelIds.png")
            image = images_root / "leftImg8bit" / split / label.parent.name / f"{stem}_leftImg8bit.png"
            if not image.is_file():
                raise DownloadError(f"{local}: no leftImg8bit image for {label.name}; is "
                                    f"{CITYSCAPES_IMAGES[0]} complete? Download it again from {CITYSCAPES_SITE}")
            found.append(Pair(stem, image, label, label.with_name(f"{stem}_gtFine_instanceIds.png")))
        if not found:
            raise DownloadError(f"{local}: no gtFine/{split}/*/*_gtFine_labelIds.png found; is {CITYSCAPES_LABELS[0]} "
                                f"the right archive?")
        if not all(pair.instance.is_file() for pair in found):
            found = [Pair(pair.stem, pair.image, pair.label) for pair in found]
        pairs[split] = found
    return Plan(pairs, classes.CITYSCAPES_LUT,
                Metadata(list(classes.CITYSCAPES_NAMES), list(classes.CITYSCAPES_PALETTE)),
                f"Cityscapes gtFine + leftImg8bit (train, val): {CITYSCAPES_SITE}", move_images=ours)


def cityscapes_help(local: Path) -> str:
    """How to get the two Cityscapes zips, which need a login."""
    return (f"Cityscapes needs a (free) account, so it cannot be downloaded for you:\n"
            f"  1. register at {CITYSCAPES_SITE}/register/ and log in;\n"
            f"  2. from {CITYSCAPES_SITE}/downloads/ download {CITYSCAPES_LABELS[0]} and {CITYSCAPES_IMAGES[0]};\n"
            f"  3. put both zips (or their unpacked {CITYSCAPES_LABELS[1]}/ and {CITYSCAPES_IMAGES[1]}/ folders) in "
            f"{local}, or pass --local DIR, and run this command again.")


def _custom_splits(base: Path) -> dict[str, tuple[Path, Path]]:
    """The (images, labels) folders per split of base: <split>/images, images/<split>, or images/ alone (train)."""
    splits = {}
    for split in SPLITS:
        for images, labels in ((base / split / IMAGES, base / split / LABELS),
                               (base / IMAGES / split, base / LABELS / split)):
            if images.is_dir() and labels.is_dir():
                splits[split] = (images, labels)
    if not splits and (base / IMAGES).is_dir() and (base / LABELS).is_dir():
        splits["train"] = (base / IMAGES, base / LABELS)
    return splits


def _instances_beside(labels: Path) -> Path | None:
    """The instances/ folder matching a labels/ folder (labels/ -> instances/, labels/<split> -> instances/<split>)."""
    twin = labels.with_name(INSTANCES) if labels.name == LABELS else labels.parent.with_name(INSTANCES) / labels.name
    return twin if twin.is_dir() else None


def custom_plan(archive: Path, url: str, sources: Path) -> Plan:
    """An instructor's archive: images/ + labels/ [+ instances/] (maybe under train/, val/ or one top-level folder),
    ids kept as they are, classes from its dataset.json if it has one."""
    tree = extract(archive, sources / "custom")
    base = tree
    children = [child for child in tree.iterdir() if not child.name.startswith((".", "__MACOSX"))]
    if not _custom_splits(tree) and len(children) == 1 and children[0].is_dir():
        base = children[0]
    splits = _custom_splits(base)
    if not splits:
        raise DownloadError(f"{url}: the archive holds no images/ and labels/ folders; pack images/<stem>.jpg|.png "
                            f"with labels/<stem>.png (optionally under train/ and val/, or in one top-level folder)")
    metadata = None
    if (base / DATASET_JSON).is_file():
        origin = f"{url}: its {DATASET_JSON}"
        try:
            meta = json.loads((base / DATASET_JSON).read_text(encoding="utf-8"))
        except ValueError as err:
            raise DatasetError(f"{origin} is not valid JSON ({err}); fix or remove it") from None
        metadata = parse_metadata(meta, origin)
    pairs = {split: pairs_in(images, labels, url, instances=_instances_beside(labels))
             for split, (images, labels) in splits.items()}
    return Plan(pairs, None, metadata, url, move_images=True)

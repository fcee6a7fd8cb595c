"""Download and prepare the SPADE paper's real datasets (CMP Facades, ADE20K, Cityscapes) or an instructor's archive.

    python data/download.py facades --root data/        # CMP Facade Database: base -> train, extended -> val
    python data/download.py ade20k --root data/         # ADE20K SceneParsing (ADEChallengeData2016.zip)
    python data/download.py cityscapes --root data/     # needs a login: prepares the zips you downloaded
    python data/download.py --url URL --name NAME [--sha256 HEX] --root data/

Archives are kept in <root>/downloads/. A download resumes with HTTP Range from <file>.part and gets its final name only
after it is verified (sha256 when one is known, and always the archive's own CRCs). The dataset is written as
<root>/<name>/{dataset.json, train/, val/} (the format SegmentationFolder reads) in a staging folder that is renamed
into place with its `.prepared` marker, so a re-run with everything in place does nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import lzma
import os
import posixpath
import re
import shutil
import stat
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from spade_lesson.atomic import write_text
from spade_lesson.data.palette import default_class_names, default_palette
from spade_lesson.data.semantic import IGNORE_INDEX

MARKER = ".prepared"  # written last into a finished dataset folder
TIMEOUT_S = 60.0  # seconds a connection may stay silent
RETRIES = 4  # attempts per download before giving up
BACKOFF_S = 2.0  # wait before the first retry; doubled after each failed attempt
CHUNK = 1 << 20
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

FACADES_URLS = (
    "https://cmp.felk.cvut.cz/~tylecr1/facade/CMP_facade_DB_base.zip",
    "https://cmp.felk.cvut.cz/~tylecr1/facade/CMP_facade_DB_extended.zip",
)
FACADES_CLASSES = ("background", "facade", "window", "door", "cornice", "sill", "balcony", "blind", "deco", "molding",
                   "pillar", "shop")

ADE20K_URL = "http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip"
ADE20K_CLASSES = (  # the 150 SceneParsing classes; annotation value k is class k - 1
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass", "cabinet", "sidewalk",
    "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "water", "painting", "sofa",
    "shelf", "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp",
    "bathtub", "railing", "cushion", "base", "box", "column", "signboard", "chest of drawers", "counter", "sand",
    "sink", "skyscraper", "fireplace", "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table",
    "pillow", "screen door", "stairway", "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower",
    "book", "hill", "bench", "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair", "boat", "bar",
    "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight",
    "booth", "television receiver", "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator",
    "ottoman", "bottle", "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer",
    "plaything", "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven",
    "ball", "food", "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher",
    "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier",
    "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)

CITYSCAPES_SITE = "https://www.cityscapes-dataset.com"
CITYSCAPES_LABELS = ("gtFine_trainvaltest.zip", "gtFine")  # (archive, the folder it unpacks to)
CITYSCAPES_IMAGES = ("leftImg8bit_trainvaltest.zip", "leftImg8bit")
# The 34 label ids of cityscapesScripts' labels.py (id k = class k) with their official colours.
CITYSCAPES_CLASSES = (
    ("unlabeled", (0, 0, 0)), ("ego vehicle", (0, 0, 0)), ("rectification border", (0, 0, 0)),
    ("out of roi", (0, 0, 0)), ("static", (0, 0, 0)), ("dynamic", (111, 74, 0)), ("ground", (81, 0, 81)),
    ("road", (128, 64, 128)), ("sidewalk", (244, 35, 232)), ("parking", (250, 170, 160)),
    ("rail track", (230, 150, 140)), ("building", (70, 70, 70)), ("wall", (102, 102, 156)),
    ("fence", (190, 153, 153)), ("guard rail", (180, 165, 180)), ("bridge", (150, 100, 100)),
    ("tunnel", (150, 120, 90)), ("pole", (153, 153, 153)), ("polegroup", (153, 153, 153)),
    ("traffic light", (250, 170, 30)), ("traffic sign", (220, 220, 0)), ("vegetation", (107, 142, 35)),
    ("terrain", (152, 251, 152)), ("sky", (70, 130, 180)), ("person", (220, 20, 60)), ("rider", (255, 0, 0)),
    ("car", (0, 0, 142)), ("truck", (0, 0, 70)), ("bus", (0, 60, 100)), ("caravan", (0, 0, 90)),
    ("trailer", (0, 0, 110)), ("train", (0, 80, 100)), ("motorcycle", (0, 0, 230)), ("bicycle", (119, 11, 32)),
)

Pair = tuple[str, Path, Path]  # (stem, image file, label file)


class DownloadError(Exception):
    """A failure the user can fix; its message is the one line printed (what went wrong, where, and the fix)."""


class _Dropped(ConnectionError):
    """A transfer that ended early or must start over; the retry loop tries again."""


@dataclass(frozen=True)
class _Entry:
    """One archive entry, reduced to what a safe extraction needs."""

    path: PurePosixPath
    kind: str  # "file", "dir" or "link"
    link: PurePosixPath | None = None  # for links: the archive path they point to
    open: Callable[[], IO[bytes]] | None = None  # for files: a reader of the entry's bytes


@dataclass(frozen=True)
class _Plan:
    """What a preparation writes: image/label pairs per split, how label ids map, and the dataset.json facts."""

    pairs: dict[str, list[Pair]]
    lut: np.ndarray | None  # (256,) uint8 source id -> our class id (255 = don't care); None keeps ids as they are
    class_names: tuple[str, ...] | None  # None: default_class_names up to the largest id the labels hold
    palette: list[list[int]] | None  # None: default_palette
    source: str
    move_images: bool  # images may be moved (they live in our own extraction folder) rather than copied


def _lookup(mapping: dict[int, int]) -> np.ndarray:
    """A (256,) uint8 table sending each listed source id to its class id and every other value to 255."""
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for source, target in mapping.items():
        lut[source] = target
    return lut


# ---------------------------------------------------------------- downloading: resume, retry, verify


def _content_range(header: str) -> tuple[int | None, int | None]:
    """'bytes 100-199/200' -> (100, 200); 'bytes */200' -> (None, 200); unknown parts are None."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", header or "")
    if match is None:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total and total != "*" else None)


def _transfer(url: str, part: Path) -> None:
    """One attempt: append the rest of url to part (Range: bytes=<size>-), restarting if the server ignores Range."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "spade-lesson-download"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code != 416 or not have:
            raise
        _, total = _content_range(err.headers.get("Content-Range", ""))
        err.close()
        if total == have:
            return  # an earlier run had already received every byte
        part.unlink()
        raise _Dropped("the server refused to resume (HTTP 416); starting over") from None
    with response:
        if response.status == 206:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            if start != have:
                part.unlink()
                raise _Dropped("the server resumed at the wrong offset; starting over")
            mode = "ab"
        else:  # 200: the server ignored Range and sends the whole file
            have, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            total = int(length) if length else None
        with part.open(mode) as file, tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                                           desc=part.name.removesuffix(".part")) as bar:
            while chunk := response.read(CHUNK):
                file.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size < total:
        raise _Dropped(f"the connection dropped after {size} of {total} bytes")


def _download(url: str, part: Path) -> None:
    """Fetch url into part, retrying dropped or failed transfers with exponential backoff (each retry resumes)."""
    part.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, RETRIES + 1):
        try:
            _transfer(url, part)
            return
        except urllib.error.HTTPError as err:
            if err.code < 500 or attempt == RETRIES:
                raise DownloadError(f"{url}: HTTP {err.code} {err.reason}; check the URL (or --mirror), or put the "
                                    f"archive in {part.parent} by hand and run again") from None
            reason = f"HTTP {err.code} {err.reason}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException) as err:
            reason = str(getattr(err, "reason", err))
            if attempt == RETRIES:
                raise DownloadError(f"{url}: {reason} ({RETRIES} attempts); check the network and the URL, then run "
                                    f"again (it resumes from {part})") from None
        delay = BACKOFF_S * 2 ** (attempt - 1)
        print(f"{url}: {reason}; retry {attempt}/{RETRIES - 1} in {delay:g} s", file=sys.stderr)
        time.sleep(delay)


def _sha256(path: Path) -> str:
    """The file's SHA-256 as lowercase hex."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def archive_problem(path: Path) -> str | None:
    """None when path is a readable zip (every CRC checked) or tar (every member read); otherwise what is wrong."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
            return None if bad is None else f"corrupt archive (CRC error in {bad!r})"
        with tarfile.open(path) as archive:
            for member in archive:
                if member.isfile():
                    reader = archive.extractfile(member)
                    while reader.read(CHUNK):
                        pass
        return None
    except NotImplementedError as err:
        return f"unsupported zip compression ({err}); re-pack it with plain deflate"
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as err:
        return f"not a complete zip or tar archive ({err})"


def _verify(path: Path, sha256: str | None, fix: str) -> None:
    """Raise DownloadError (ending in fix) unless path matches sha256 (when given) and passes archive_problem."""
    if sha256:
        got = _sha256(path)
        if got != sha256.lower():
            raise DownloadError(f"{path}: sha256 is {got}, expected {sha256.lower()}; {fix}")
    problem = archive_problem(path)
    if problem:
        raise DownloadError(f"{path}: {problem}; {fix}")


def fetch(url: str, dest: Path, sha256: str | None = None) -> Path:
    """Download url to dest via dest.part (resumable), verify it, then rename it; an existing dest is re-verified."""
    if dest.exists():
        _verify(dest, sha256, "delete it (or fix --sha256) and run again")
        return dest
    part = dest.with_name(dest.name + ".part")
    _download(url, part)
    try:
        _verify(part, sha256, f"deleted it; check {url} (and --sha256), then run again")
    except DownloadError:
        part.unlink()
        raise
    os.replace(part, dest)
    return dest


# ---------------------------------------------------------------- safe extraction


def _safe_path(archive: Path, name: str) -> PurePosixPath:
    """An entry's name as a relative path; refuses absolute names and '..' components."""
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if posix.startswith("/") or ".." in parts or (parts and parts[0].endswith(":")):
        raise DownloadError(f"{archive}: entry {name!r} points outside the extraction folder (absolute path or '..'); "
                            f"refusing to extract it - re-pack the archive with relative paths")
    return PurePosixPath(*parts)


def _link_target(archive: Path, path: PurePosixPath, link: str, from_root: bool) -> PurePosixPath:
    """Where a link entry points inside the archive (symlinks: relative to their folder); refuses links pointing out."""
    joined = link if from_root else posixpath.join(str(path.parent), link)
    normal = posixpath.normpath(joined.replace("\\", "/"))
    if link.startswith(("/", "\\")) or normal == ".." or normal.startswith("../"):
        raise DownloadError(f"{archive}: link {str(path)!r} -> {link!r} points outside the extraction folder; refusing "
                            f"to extract it - re-pack the archive without links")
    return PurePosixPath(normal)


def _zip_entry(archive: Path, source: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Entry:
    """A zip entry as an _Entry (unix symlinks included); refuses device files."""
    path = _safe_path(archive, info.filename)
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return _Entry(path, "link", link=_link_target(archive, path, source.read(info).decode(), from_root=False))
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise DownloadError(f"{archive}: entry {info.filename!r} is a device or special file; refusing to extract it")
    if info.is_dir() or kind == stat.S_IFDIR:
        return _Entry(path, "dir")
    return _Entry(path, "file", open=partial(source.open, info))


def _tar_entry(archive: Path, source: tarfile.TarFile, member: tarfile.TarInfo) -> _Entry:
    """A tar member as an _Entry; refuses device files and fifos."""
    path = _safe_path(archive, member.name)
    if member.issym() or member.islnk():
        return _Entry(path, "link", link=_link_target(archive, path, member.linkname, from_root=member.islnk()))
    if member.isdir():
        return _Entry(path, "dir")
    if member.isfile():
        return _Entry(path, "file", open=partial(source.extractfile, member))
    raise DownloadError(f"{archive}: entry {member.name!r} is a device or special file; refusing to extract it")


def _unpack(archive: Path, entries: list[_Entry], target: Path, select: Callable[[str], bool]) -> None:
    """Write the selected entries into a temp folder beside target, then rename it to target."""
    # Every entry was checked before this runs, and links are never created on disk (a link to a file inside the
    # archive is written as a copy of that file, others are skipped), so nothing can land outside target.
    files = {entry.path: entry for entry in entries if entry.kind == "file"}
    temp = target.with_name(f".{target.name}.extracting")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    try:
        for entry in tqdm(entries, desc=f"extracting {archive.name}", unit="entry"):
            if not entry.path.parts or not select(str(entry.path)):
                continue
            dest = temp.joinpath(*entry.path.parts)
            if entry.kind == "dir":
                dest.mkdir(parents=True, exist_ok=True)
                continue
            source = entry if entry.kind == "file" else files.get(entry.link)
            if source is None:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with source.open() as reader, dest.open("wb") as writer:
                shutil.copyfileobj(reader, writer, CHUNK)
        os.replace(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def extract(archive: Path, target: Path, select: Callable[[str], bool] = lambda name: True) -> Path:
    """Unpack a zip or tar(.gz/.bz2/.xz) archive into target, refusing it whole if any entry would land outside."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as source:
            _unpack(archive, [_zip_entry(archive, source, info) for info in source.infolist()], target, select)
    else:
        with tarfile.open(archive) as source:
            _unpack(archive, [_tar_entry(archive, source, member) for member in source.getmembers()], target, select)
    return target


# ---------------------------------------------------------------- writing the prepared dataset


def _write_image(src: Path, folder: Path, stem: str, move: bool) -> None:
    """Put src in folder as <stem>.jpg or <stem>.png: moved or copied when already an RGB JPEG/PNG, else converted."""
    try:
        with Image.open(src) as image:
            as_is = image.mode == "RGB" and image.format in ("JPEG", "PNG")
            suffix = ".jpg" if image.format == "JPEG" else ".png"
            if not as_is:
                image.convert("RGB").save(folder / f"{stem}.png")
    except (UnidentifiedImageError, OSError) as err:
        raise DownloadError(f"{src.name}: not a readable image ({err}); remove it from the archive or replace it"
                            ) from None
    if as_is:
        (os.replace if move else shutil.copyfile)(src, folder / f"{stem}{suffix}")


def _write_label(src: Path, dest: Path, lut: np.ndarray | None) -> np.ndarray:
    """Write src's class ids (mapped through lut) to dest as an 8-bit PNG; returns which of the 256 ids occur."""
    try:
        with Image.open(src) as label:
            if label.mode not in ("L", "P"):
                raise DownloadError(f"{src.name}: label PNG has mode {label.mode}; labels must be single-channel 8-bit "
                                    f"PNGs of class ids (255 = don't care), not colour pictures")
            ids = np.asarray(label)
    except (UnidentifiedImageError, OSError) as err:
        raise DownloadError(f"{src.name}: not a readable PNG ({err}); remove it from the archive or replace it"
                            ) from None
    ids = ids if lut is None else lut[ids]
    Image.fromarray(ids.astype(np.uint8)).save(dest)
    return np.bincount(ids.ravel(), minlength=256) > 0


def _write(plan: _Plan, out: Path, name: str) -> dict[str, int]:
    """Write every split of plan into out, then dataset.json, then the marker; returns the number of pairs per split."""
    seen = np.zeros(256, dtype=bool)
    for split, pairs in plan.pairs.items():
        (out / split / "images").mkdir(parents=True)
        (out / split / "labels").mkdir()
        for stem, image, label in tqdm(pairs, desc=f"writing {name}/{split}", unit="pair"):
            _write_image(image, out / split / "images", stem, plan.move_images)
            seen |= _write_label(label, out / split / "labels" / f"{stem}.png", plan.lut)
    ids = np.flatnonzero(seen[:IGNORE_INDEX])
    if ids.size == 0:
        raise DownloadError(f"{plan.source}: every label pixel is 255 (don't care); labels must hold class ids 0..C-1")
    class_names = plan.class_names or tuple(default_class_names(int(ids.max()) + 1))
    if ids.max() >= len(class_names):
        raise DownloadError(f"{plan.source}: labels hold class id {ids.max()} but only {len(class_names)} class names "
                            f"are given; fix the labels or the archive's dataset.json")
    palette = plan.palette if plan.palette and len(plan.palette) == len(class_names) else None
    info = {"name": name, "class_names": list(class_names), "palette": palette or default_palette(len(class_names)),
            "ignore_index": IGNORE_INDEX, "source": plan.source}
    # indented JSON, each palette colour kept on one line as [r, g, b]
    text = re.sub(r"\[\s+(\d+),\s+(\d+),\s+(\d+)\s+\]", r"[\1, \2, \3]", json.dumps(info, indent=1))
    write_text(out / "dataset.json", text + "\n")
    counts = {split: len(pairs) for split, pairs in plan.pairs.items()}
    write_text(out / MARKER, json.dumps(counts) + "\n")
    return counts


def _build(root: Path, name: str, make_plan: Callable[[Path], _Plan]) -> None:
    """Prepare <root>/<name> in the staging folder <root>/.<name>.partial and rename it into place when complete."""
    staging = root / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "sources").mkdir(parents=True)
    try:
        plan = make_plan(staging / "sources")
        counts = _write(plan, staging / name, name)
        os.replace(staging / name, root / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"prepared: {root / name} ({', '.join(f'{split}: {n}' for split, n in counts.items())} image/label pairs)")


def _pairs(images: Path, labels: Path, origin: str, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[Pair]:
    """(stem, image, label) for every images/<stem><suffix>, whose label must be labels/<stem>.png."""
    found = sorted(p for p in images.iterdir() if p.suffix.lower() in suffixes) if images.is_dir() else []
    if not found:
        raise DownloadError(f"{origin}: no images found in {images.name}/; is this the right archive?")
    twins = sorted(stem for stem, count in Counter(p.stem for p in found).items() if count > 1)
    if twins:
        raise DownloadError(f"{origin}: several images share the stem {twins[0]!r} in {images.name}/; keep one per stem")
    missing = [p for p in found if not (labels / f"{p.stem}.png").is_file()]
    if missing:
        raise DownloadError(f"{origin}: {len(missing)} image(s) without a label, e.g. {images.name}/{missing[0].name} "
                            f"has no {labels.name}/{missing[0].stem}.png; every image needs a label PNG of its stem")
    return [(p.stem, p, labels / f"{p.stem}.png") for p in found]


# ---------------------------------------------------------------- the datasets


def _facades_plan(archives: list[Path], sources: Path) -> _Plan:
    """CMP Facades: base/ -> train, extended/ -> val; label index k in 1..12 -> class k - 1, anything else -> 255."""
    pairs = {}
    for split, archive, folder in (("train", archives[0], "base"), ("val", archives[1], "extended")):
        tree = extract(archive, sources / folder) / folder
        pairs[split] = _pairs(tree, tree, f"{archive} ({folder}/)", suffixes=(".jpg",))
    return _Plan(pairs, _lookup({k + 1: k for k in range(len(FACADES_CLASSES))}), FACADES_CLASSES, None,
                 "CMP Facade Database (base -> train, extended -> val): " + ", ".join(FACADES_URLS), move_images=True)


def _ade20k_plan(archives: list[Path], sources: Path) -> _Plan:
    """ADE20K SceneParsing: annotation 0 (other) -> 255, k -> k - 1 for the 150 classes; training/validation splits."""
    top = extract(archives[0], sources / "ade20k") / "ADEChallengeData2016"
    pairs = {split: _pairs(top / "images" / folder, top / "annotations" / folder,
                           f"{archives[0]} (ADEChallengeData2016/images/{folder}/)")
             for split, folder in (("train", "training"), ("val", "validation"))}
    lut = _lookup({k: k - 1 for k in range(1, len(ADE20K_CLASSES) + 1)})
    return _Plan(pairs, lut, ADE20K_CLASSES, None, f"ADE20K SceneParsing (ADEChallengeData2016): {ADE20K_URL}",
                 move_images=True)


def _cityscapes_source(local: Path, archive_and_folder: tuple[str, str], sources: Path,
                       pattern: str) -> tuple[Path, bool]:
    """(folder holding gtFine/ or leftImg8bit/, whether we unpacked it): local's zip verified and unpacked, or local."""
    archive_name, folder = archive_and_folder
    archive = local / archive_name
    if archive.is_file():
        print(f"verifying {archive} ...")
        _verify(archive, None, f"download {archive_name} again from {CITYSCAPES_SITE}/downloads/")
        selected = re.compile(pattern)
        return extract(archive, sources / folder, lambda name: selected.fullmatch(name) is not None), True
    return local, False


def _cityscapes_plan(local: Path, sources: Path) -> _Plan:
    """Cityscapes gtFine: *_gtFine_labelIds.png ids 0..33 kept as classes, others -> 255; leftImg8bit images."""
    labels_root, _ = _cityscapes_source(local, CITYSCAPES_LABELS, sources,
                                        r"gtFine/(train|val)/[^/]+/[^/]+_gtFine_labelIds\.png")
    images_root, ours = _cityscapes_source(local, CITYSCAPES_IMAGES, sources,
                                           r"leftImg8bit/(train|val)/[^/]+/[^/]+_leftImg8bit\.png")
    pairs = {}
    for split in ("train", "val"):
        found = []
        for label in sorted((labels_root / "gtFine" / split).glob("*/*_gtFine_labelIds.png")):
            stem = label.name.removesuffix("_gtFine_labelIds.png")
            image = images_root / "leftImg8bit" / split / label.parent.name / f"{stem}_leftImg8bit.png"
            if not image.is_file():
                raise DownloadError(f"{local}: no leftImg8bit image for {label.name}; is "
                                    f"{CITYSCAPES_IMAGES[0]} complete? Download it again from {CITYSCAPES_SITE}")
            found.append((stem, image, label))
        if not found:
            raise DownloadError(f"{local}: no gtFine/{split}/*/*_gtFine_labelIds.png found; is {CITYSCAPES_LABELS[0]} "
                                f"the right archive?")
        pairs[split] = found
    names = tuple(name for name, _ in CITYSCAPES_CLASSES)
    palette = [list(color) for _, color in CITYSCAPES_CLASSES]
    return _Plan(pairs, _lookup({k: k for k in range(len(names))}), names, palette,
                 f"Cityscapes gtFine + leftImg8bit (train, val): {CITYSCAPES_SITE}", move_images=ours)


def _custom_splits(base: Path) -> dict[str, tuple[Path, Path]]:
    """The (images, labels) folders per split of base: <split>/images, images/<split>, or images/ alone (train)."""
    splits = {}
    for split in ("train", "val"):
        for images, labels in ((base / split / "images", base / split / "labels"),
                               (base / "images" / split, base / "labels" / split)):
            if images.is_dir() and labels.is_dir():
                splits[split] = (images, labels)
    if not splits and (base / "images").is_dir() and (base / "labels").is_dir():
        splits["train"] = (base / "images", base / "labels")
    return splits


def _custom_plan(archive: Path, url: str, sources: Path) -> _Plan:
    """An instructor's archive: images/ + labels/ (maybe under train/, val/ or one top-level folder), ids kept as is."""
    tree = extract(archive, sources / "custom")
    base = tree
    children = [child for child in tree.iterdir() if not child.name.startswith((".", "__MACOSX"))]
    if not _custom_splits(tree) and len(children) == 1 and children[0].is_dir():
        base = children[0]
    splits = _custom_splits(base)
    if not splits:
        raise DownloadError(f"{url}: the archive holds no images/ and labels/ folders; pack images/<stem>.jpg|.png "
                            f"with labels/<stem>.png (optionally under train/ and val/, or in one top-level folder)")
    meta = {}
    if (base / "dataset.json").is_file():
        try:
            meta = json.loads((base / "dataset.json").read_text(encoding="utf-8"))
        except ValueError as err:
            raise DownloadError(f"{url}: its dataset.json is not valid JSON ({err}); fix or remove it") from None
    names = tuple(meta["class_names"]) if "class_names" in meta else None
    pairs = {split: _pairs(images, labels, url) for split, (images, labels) in splits.items()}
    return _Plan(pairs, None, names, meta.get("palette"), url, move_images=True)


def _archive_name(url: str) -> str:
    """The file name at the end of url's path."""
    return PurePosixPath(urllib.parse.urlparse(url).path).name


def _cityscapes_help(local: Path) -> str:
    """How to get the two Cityscapes zips, which need a login."""
    return (f"Cityscapes needs a (free) account, so it cannot be downloaded for you:\n"
            f"  1. register at {CITYSCAPES_SITE}/register/ and log in;\n"
            f"  2. from {CITYSCAPES_SITE}/downloads/ download {CITYSCAPES_LABELS[0]} and {CITYSCAPES_IMAGES[0]};\n"
            f"  3. put both zips (or their unpacked {CITYSCAPES_LABELS[1]}/ and {CITYSCAPES_IMAGES[1]}/ folders) in "
            f"{local}, or pass --local DIR, and run this command again.")


def _run(args: argparse.Namespace) -> None:
    """Prepare the dataset the parsed arguments name (or report that it already is)."""
    root: Path = args.root
    name = args.name or args.dataset
    target = root / name
    if (target / MARKER).is_file():
        print(f"already prepared: {target}")
        return
    if target.exists():
        raise DownloadError(f"{target} exists but is not a finished preparation (no {MARKER}); move it away or choose "
                            f"another --root, then run again")
    downloads = root / "downloads"
    if args.dataset == "cityscapes":
        local = args.local or downloads
        present = [(local / archive).is_file() or (local / folder).is_dir()
                   for archive, folder in (CITYSCAPES_LABELS, CITYSCAPES_IMAGES)]
        if not all(present):
            print(_cityscapes_help(local))
            raise DownloadError(f"{local}: {CITYSCAPES_LABELS[0]} and {CITYSCAPES_IMAGES[0]} not found; get them as "
                                f"described above")
        _build(root, name, partial(_cityscapes_plan, local))
        return
    if args.url:
        archive = fetch(args.url, downloads / f"{name}-{_archive_name(args.url) or 'archive'}", args.sha256)
        _build(root, name, partial(_custom_plan, archive, args.url))
        return
    urls = FACADES_URLS if args.dataset == "facades" else (ADE20K_URL,)
    if args.mirror:
        urls = tuple(f"{args.mirror.rstrip('/')}/{_archive_name(url)}" for url in urls)
    archives = [fetch(url, downloads / _archive_name(url)) for url in urls]
    _build(root, name, partial(_facades_plan if args.dataset == "facades" else _ade20k_plan, archives))


def _parser() -> argparse.ArgumentParser:
    """The command line of `python data/download.py` and `spade-lesson download`."""
    parser = argparse.ArgumentParser(
        description="Download and prepare a real dataset as <root>/<name>/{dataset.json, train/, val/}.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python data/download.py facades --root data/\n"
               "  python data/download.py ade20k --root data/\n"
               "  python data/download.py cityscapes --local ~/Downloads\n"
               "  python data/download.py --url https://example.org/mine.zip --name mine --sha256 HEX")
    parser.add_argument("dataset", nargs="?", choices=("facades", "ade20k", "cityscapes"),
                        help="a dataset of the paper")
    parser.add_argument("--root", type=Path, default=Path("data"),
                        help="folder that receives <name>/ and downloads/ (default: data)")
    parser.add_argument("--mirror",
                        help="facades/ade20k: base URL serving the official archives under their own file names")
    parser.add_argument("--local", type=Path, help="cityscapes: folder holding the two zips or their unpacked folders "
                                                   "(default: <root>/downloads)")
    parser.add_argument("--url", help="your own zip or tar(.gz) archive holding images/ and labels/")
    parser.add_argument("--name", help="with --url: the dataset's folder name under --root")
    parser.add_argument("--sha256", help="with --url: the archive's expected SHA-256 (64 hex digits)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns 0 when the dataset is prepared, 1 (one line on stderr) when it could not be."""
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.dataset is None) == (args.url is None):
        parser.error("give a dataset (facades, ade20k, cityscapes) or --url URL --name NAME, not both")
    if args.url and not args.name:
        parser.error("--url needs --name NAME (the folder it is prepared into)")
    if (args.name or args.sha256) and not args.url:
        parser.error("--name and --sha256 go with --url")
    if args.name and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", args.name) or args.name == "downloads":
        parser.error(f"--name {args.name!r}: use letters, digits, '.', '_' or '-' (and not 'downloads')")
    if args.sha256 and not re.fullmatch(r"[0-9a-fA-F]{64}", args.sha256):
        parser.error("--sha256 must be 64 hex digits")
    if args.mirror and args.dataset not in ("facades", "ade20k"):
        parser.error("--mirror goes with facades or ade20k")
    if args.local and args.dataset != "cityscapes":
        parser.error("--local goes with cityscapes")
    try:
        _run(args)
    except DownloadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: {err}; check the path and free disk space, then run again", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    return 0

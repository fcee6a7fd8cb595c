"""Real datasets on disk: a prepared dataset folder, or any folder of images/ and labels/, as a torch Dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from spade_lesson.data.landscapes import Landscapes
from spade_lesson.data.palette import default_class_names, default_palette
from spade_lesson.data.semantic import IGNORE_INDEX

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
LABEL_MODES = ("1", "L", "P", "I", "I;16")  # single-channel PIL modes; "P" is read as its indices, never its colours
PREPARED = ("facades", "ade20k", "cityscapes")  # names data/download.py prepares under <root>/<name>
LANDSCAPES_SEEDS = {"train": 3, "val": 4}  # Landscapes has no files: each split is its own random stream
SHOWN = 3  # how many file names an error message lists


class SegmentationFolder(Dataset):
    """Item i = {"label": (H, W) long class ids, "image": (3, H, W) float in [-1, 1]} read from image/label files."""

    def __init__(self, root: str | Path, split: str = "train", size: int | tuple[int, int] = 256,
                 num_classes: int | None = None) -> None:
        self.root = Path(root)
        self.size = square(size)
        folder = find_split(self.root, split)
        self.images, self.labels = pair_files(folder)
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                        or not 1 <= num_classes <= IGNORE_INDEX):
            raise ValueError(f"SegmentationFolder: num_classes={num_classes!r}; pass an int from 1 to {IGNORE_INDEX}")
        meta = read_metadata(self.root / "dataset.json")
        if meta is not None:
            names, palette = meta
            if num_classes is not None and num_classes != len(names):
                raise ValueError(f"SegmentationFolder: num_classes={num_classes} but {self.root / 'dataset.json'} "
                                 f"names {len(names)} classes; leave num_classes out to use the file's")
        else:
            num_classes = infer_num_classes(self.labels) if num_classes is None else num_classes
            names, palette = default_class_names(num_classes), default_palette(num_classes)
        self.class_names: list[str] = names
        self.palette: list[tuple[int, int, int]] = palette
        self.num_classes: int = len(names)

    def __len__(self) -> int:
        """The number of image/label pairs."""
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """Pair `index`, checked and resized to self.size (label with nearest, image bicubic)."""
        image_path, label_path = self.images[index], self.labels[index]
        label = read_label(label_path, self.num_classes)
        image = read_image(image_path)
        if image.size != (label.shape[1], label.shape[0]):
            raise ValueError(f"{image_path} is {image.size[0]}x{image.size[1]} but {label_path} is "
                             f"{label.shape[1]}x{label.shape[0]}; an image and its label must have the same size")
        height, width = self.size
        label = np.asarray(Image.fromarray(label).resize((width, height), Image.Resampling.NEAREST))
        image = np.asarray(image.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
        return {"label": torch.from_numpy(label.astype(np.int64)),
                "image": torch.from_numpy(image / 127.5 - 1.0).permute(2, 0, 1).contiguous()}


def square(size: int | tuple[int, int]) -> tuple[int, int]:
    """An int size means a square; return (H, W), refusing anything but positive ints."""
    pair = (size, size) if isinstance(size, int) else tuple(size) if isinstance(size, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in pair):
        raise ValueError(f"SegmentationFolder: size={size!r}; pass an int (square) or a pair of ints (H, W)")
    return pair


def find_split(root: Path, split: str) -> Path:
    """The folder holding images/ and labels/: <root>/<split>, or <root> itself (a plain folder) for "train"."""
    if not root.is_dir():
        raise FileNotFoundError(f"SegmentationFolder: {root} is not a folder; pass a folder with images/ and labels/")
    for folder in (root / split, root) if split == "train" else (root / split,):
        if (folder / "images").is_dir() and (folder / "labels").is_dir():
            return folder
    splits = sorted(p.name for p in root.iterdir() if (p / "images").is_dir())
    hint = (f"splits found: {', '.join(splits)}" if splits
            else "a plain folder of images/ + labels/ is the train split" if (root / "images").is_dir()
            else "expected <root>/<split>/images + labels, or images/ + labels/")
    raise FileNotFoundError(f"SegmentationFolder: no images/ + labels/ folders for split {split!r} in {root} ({hint})")


def pair_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """Match images/<stem>.jpg|.png with labels/<stem>.png; refuse missing partners, JPEG labels and empty folders."""
    images = by_stem(folder / "images", IMAGE_SUFFIXES)
    labels = by_stem(folder / "labels", (".png",) + IMAGE_SUFFIXES)
    for stem, path in labels.items():
        if path.suffix.lower() != ".png":
            raise ValueError(f"{path}: labels must be PNG files (JPEG compression changes class ids); "
                             f"re-export it losslessly as labels/{stem}.png")
    unlabeled, orphans = sorted(images.keys() - labels.keys()), sorted(labels.keys() - images.keys())
    if unlabeled or orphans:
        problems = [f"{len(names)} file(s) in {side} have no partner in {other} ({', '.join(names[:SHOWN])}"
                    f"{', ...' if len(names) > SHOWN else ''})"
                    for names, side, other in ((unlabeled, "images/", "labels/"), (orphans, "labels/", "images/"))
                    if names]
        raise ValueError(f"{folder}: {'; '.join(problems)}; every images/<stem>.jpg|.png needs labels/<stem>.png")
    if not images:
        raise ValueError(f"{folder}: images/ and labels/ hold no files; add images/<stem>.jpg|.png + labels/<stem>.png")
    stems = sorted(images)
    return [images[s] for s in stems], [labels[s] for s in stems]


def by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    """{stem: path} of the files in folder with one of the suffixes; two files with one stem is an error."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in suffixes:
            continue
        if path.stem in found:
            raise ValueError(f"{folder}: both {found[path.stem].name} and {path.name} have the stem {path.stem!r}; "
                             "keep one")
        found[path.stem] = path
    return found


def read_metadata(path: Path) -> tuple[list[str], list[tuple[int, int, int]]] | None:
    """Class names and palette from dataset.json, or None when the folder has none."""
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        names = [str(name) for name in meta["class_names"]]
        palette = [tuple(int(c) for c in color) for color in meta["palette"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: cannot read class_names and palette ({error!r}); re-run the download "
                         "script or fix the JSON") from None
    valid = all(len(color) == 3 and all(0 <= value <= 255 for value in color) for color in palette)
    if not names or len(palette) != len(names) or not valid:
        raise ValueError(f"{path}: needs one [r, g, b] (0..255) palette entry per class name, got {len(palette)} "
                         f"colours for {len(names)} names")
    return names, palette


def read_image(path: Path) -> Image.Image:
    """Open an image file as RGB, turning any decoding failure into a one-line error naming the file."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError, SyntaxError) as error:
        raise ValueError(f"{path}: cannot read this image ({error}); replace or re-export the file") from None


def read_label(path: Path, num_classes: int) -> np.ndarray:
    """A label PNG -> (H, W) uint8 class ids, checked: single channel, ids < num_classes or 255 (don't care)."""
    try:
        with Image.open(path) as image:
            mode = image.mode
            label = np.asarray(image) if mode in LABEL_MODES else None
    except (OSError, ValueError, SyntaxError) as error:
        raise ValueError(f"{path}: cannot read this label image ({error}); replace or re-export the file") from None
    if label is None:
        article = "an" if mode[0] in "AEFHILMNORSX" else "a"  # as the mode's first letter is spoken
        raise ValueError(f"{path} is {article} {mode} image; labels must be single-channel PNGs of class ids 0..C-1 "
                         f"({IGNORE_INDEX} = don't care): convert colours to ids first (one id per colour)")
    bad = ((label < 0) | (label >= num_classes)) & (label != IGNORE_INDEX)
    if bad.any():
        value = int(label[bad][0])
        what = "palette index" if mode == "P" else "class id"
        fix = "; palette labels must index colours by class id" if mode == "P" else ""
        raise ValueError(f"{path}: {what} {value} is out of range; valid class ids are 0..{num_classes - 1} "
                         f"({IGNORE_INDEX} = don't care){fix}")
    return label.astype(np.uint8)


def infer_num_classes(paths: list[Path]) -> int:
    """1 + the largest class id found in the label files (255, don't care, aside)."""
    largest = 0
    for path in paths:
        label = read_label(path, IGNORE_INDEX)
        largest = max(largest, int(label.max(initial=0, where=label != IGNORE_INDEX)))
    return largest + 1


def load_dataset(name: str, root: str | Path = "data", split: str = "train",
                 size: int | tuple[int, int] = 128) -> Dataset:
    """"landscapes" (offline), a prepared dataset's name under root, or a folder path -> its Dataset."""
    if name == "landscapes":
        if split not in LANDSCAPES_SEEDS:
            raise ValueError(f"load_dataset: split={split!r}; landscapes has {' and '.join(LANDSCAPES_SEEDS)}")
        return Landscapes(size=size, seed=LANDSCAPES_SEEDS[split])
    if name in PREPARED:
        folder = Path(root) / name
        if not (folder / "dataset.json").is_file():
            raise FileNotFoundError(f"load_dataset: {name} is not prepared in {folder}; "
                                    f"run: python data/download.py {name} --root {root}")
        return SegmentationFolder(folder, split=split, size=size)
    if Path(name).is_dir():
        return SegmentationFolder(name, split=split, size=size)
    raise ValueError(f"load_dataset: {name!r} is neither a dataset ({', '.join(('landscapes',) + PREPARED)}) "
                     "nor a folder with images/ and labels/")

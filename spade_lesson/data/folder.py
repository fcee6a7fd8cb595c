"""Real datasets on disk as a torch Dataset: a prepared dataset, any folder of images/ and labels/, or the official
COCO-Stuff, ADE20K and Cityscapes layouts read in place."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from spade_lesson.data.decode import check_ids, read_ids, read_image, read_instance
from spade_lesson.data.errors import DatasetError, DatasetNotFoundError
from spade_lesson.data.landscapes import Landscapes
from spade_lesson.data.layout import DATASET_JSON, MAX_CLASSES, PREPARED
from spade_lesson.data.metadata import read_metadata
from spade_lesson.data.pairs import LAYOUTS, Files, find_files
from spade_lesson.data.palette import default_class_names, default_palette
from spade_lesson.data.preprocess import Preprocess
from spade_lesson.data.semantic import IGNORE_INDEX

LANDSCAPES_SEEDS = {"train": 3, "val": 4}  # Landscapes has no files: each split is its own random stream


class SegmentationFolder(Dataset):
    """Item i = {"label": (H, W) long class ids (255 = don't care), "image": (3, H, W) float in [-1, 1]}, plus
    "instance": (H, W) long instance ids when the dataset has instance maps."""

    def __init__(self, root: str | Path, split: str = "train", size: int | tuple[int, int] | None = None,
                 num_classes: int | None = None, *, layout: str | None = None,
                 preprocess: Preprocess | None = None) -> None:
        self.root = Path(root)
        if size is not None and preprocess is not None:
            raise DatasetError("SegmentationFolder: give size (a plain resize) or preprocess, not both")
        self.preprocess = preprocess or Preprocess.resize_to(square(256 if size is None else size))
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                        or not 1 <= num_classes <= MAX_CLASSES):
            raise DatasetError(f"SegmentationFolder: num_classes={num_classes!r}; pass an int from 1 to {MAX_CLASSES} "
                               f"(label PNGs hold ids 0..{MAX_CLASSES - 1}, {IGNORE_INDEX} = don't care)")
        files = find_files(self.root, split, layout)
        self.images, self.labels, self.instances, self.lut = files.images, files.labels, files.instances, files.lut
        names, palette = self._classes(files, num_classes)
        self.class_names: list[str] = names
        self.palette: list[tuple[int, int, int]] = palette
        self.num_classes: int = len(names)

    def _classes(self, files: Files, num_classes: int | None) -> tuple[list[str], list[tuple[int, int, int]]]:
        """Names and palette from dataset.json, else the layout's own classes, else num_classes, else the data."""
        meta = read_metadata(self.root / DATASET_JSON)
        source = f"{self.root / DATASET_JSON} names" if meta else f"the {self.root.name} layout has"
        meta = meta or files.known
        if meta is not None:
            if num_classes is not None and num_classes != len(meta.class_names):
                raise DatasetError(f"SegmentationFolder: num_classes={num_classes} but {source} "
                                   f"{len(meta.class_names)} classes; leave num_classes out to use those")
            return meta.class_names, meta.palette or default_palette(len(meta.class_names))
        count = self._largest_id() + 1 if num_classes is None else num_classes
        return default_class_names(count), default_palette(count)

    def _largest_id(self) -> int:
        """The largest class id in the label files (no dataset.json or num_classes says the count)."""
        largest = -1
        for path in self.labels:
            ids = self._label(path, MAX_CLASSES)
            ids = ids[ids != IGNORE_INDEX]
            largest = max(largest, int(ids.max())) if ids.size else largest
        if largest < 0:
            raise DatasetError(f"{self.root}: every label pixel is {IGNORE_INDEX} (don't care), so no class count "
                               f"can be read from the labels; fix the labels, or pass num_classes or a dataset.json")
        return largest

    def _label(self, path: Path, num_classes: int) -> np.ndarray:
        """A label file's class ids (through the layout's table, if any), checked against num_classes."""
        ids, mode = read_ids(path)
        if self.lut is not None:  # an official layout's ids (8- or 16-bit PNG) -> class ids (255 = don't care)
            values = ids.astype(np.int64)
            if values.size and not 0 <= values.min() <= values.max() < len(self.lut):
                raise DatasetError(f"{path}: label value {int(values.max())} is not an id of this dataset's layout "
                                   f"(0..{len(self.lut) - 1}); re-export the annotation from the official files")
            ids = self.lut[values]
        return check_ids(ids, path, num_classes, mode)

    def __len__(self) -> int:
        """The number of image/label pairs."""
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """Pair `index`, checked, then resized/cropped/flipped by self.preprocess (nearest for ids, bicubic for
        the image, one random draw for all three)."""
        image_path, label_path = self.images[index], self.labels[index]
        label = self._label(label_path, self.num_classes)
        image = read_image(image_path)
        maps = [(label_path, label)]
        if self.instances is not None:
            maps.append((self.instances[index], read_instance(self.instances[index])))
        for path, ids in maps:
            if image.size != (ids.shape[1], ids.shape[0]):
                raise DatasetError(f"{image_path} is {image.size[0]}x{image.size[1]} but {path} is "
                                   f"{ids.shape[1]}x{ids.shape[0]}; an image and its maps must have the same size")
        crop = self.preprocess.draw(*image.size)
        nearest = Image.Resampling.NEAREST
        label = self.preprocess.apply(Image.fromarray(label), crop, nearest, fill=IGNORE_INDEX)
        image = self.preprocess.apply(image, crop, Image.Resampling.BICUBIC)
        pixels = np.asarray(image, dtype=np.float32)
        item = {"label": torch.from_numpy(np.asarray(label).astype(np.int64)),
                "image": torch.from_numpy(pixels / 127.5 - 1.0).permute(2, 0, 1).contiguous()}
        if self.instances is not None:
            instance = self.preprocess.apply(Image.fromarray(maps[1][1]), crop, nearest)
            item["instance"] = torch.from_numpy(np.asarray(instance).astype(np.int64))
        return item


def square(size: int | tuple[int, int]) -> tuple[int, int]:
    """An int size means a square; return (H, W), refusing anything but positive ints."""
    pair = (size, size) if isinstance(size, int) else tuple(size) if isinstance(size, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in pair):
        raise DatasetError(f"SegmentationFolder: size={size!r}; pass an int (square) or a pair of ints (H, W)")
    return pair


def load_dataset(name: str, root: str | Path = "data", split: str = "train", size: int | tuple[int, int] = 128, *,
                 layout: str | None = None, num_classes: int | None = None,
                 preprocess: Preprocess | None = None) -> Dataset:
    """"landscapes" (offline), a prepared dataset's name under root, or a folder path (in any layout of
    spade_lesson.data.pairs) -> its Dataset; preprocess, when given, replaces the plain resize to size."""
    if not isinstance(name, (str, os.PathLike)):
        raise DatasetError(f"load_dataset: name={name!r}; pass 'landscapes', a prepared dataset's name "
                           f"({', '.join(PREPARED)}) or a folder path")
    name = str(name)
    if name == "landscapes":
        if split not in LANDSCAPES_SEEDS:
            raise DatasetError(f"load_dataset: split={split!r}; landscapes has {' and '.join(LANDSCAPES_SEEDS)}")
        if preprocess is not None and (preprocess.mode != "fixed" or preprocess.aspect_ratio != 1 or preprocess.flip):
            raise DatasetError("load_dataset: landscapes is drawn square at its size; use preprocess mode 'fixed', "
                               "aspect_ratio 1 and no flip (or leave preprocess out)")
        return Landscapes(size=preprocess.crop_size if preprocess else size, seed=LANDSCAPES_SEEDS[split])
    options = {"layout": layout, "num_classes": num_classes, "preprocess": preprocess,
               "size": size if preprocess is None else None}
    if name in PREPARED:
        folder = Path(root) / name
        if not (folder / DATASET_JSON).is_file():
            raise DatasetNotFoundError(f"load_dataset: {name} is not prepared in {folder}; "
                                       f"run: python data/download.py {name} --root {root}")
        return SegmentationFolder(folder, split=split, **options)
    if Path(name).is_dir():
        return SegmentationFolder(name, split=split, **options)
    raise DatasetError(f"load_dataset: {name!r} is neither a dataset ({', '.join(('landscapes',) + PREPARED)}) "
                       f"nor a folder in one of the layouts {', '.join(LAYOUTS)}")

"""Decode image, label and instance files into arrays; every failure (decompression bombs included) is one line."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from spade_lesson.data.errors import DatasetError
from spade_lesson.data.semantic import IGNORE_INDEX

LABEL_MODES = ("1", "L", "P", "I", "I;16")  # single-channel PIL modes; "P" is read as its indices, never its colours


@contextmanager
def opened(path: Path, what: str) -> Iterator[Image.Image]:
    """Image.open(path), fully decoded, with PIL's decompression-bomb warning and error as one DatasetError line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                yield image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DatasetError(f"{path}: this {what} claims more pixels than PIL decodes safely ({error}); replace the "
                           f"file, or raise PIL.Image.MAX_IMAGE_PIXELS if the picture is really that large") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        if isinstance(error, DatasetError):
            raise
        raise DatasetError(f"{path}: cannot read this {what} ({error}); replace or re-export the file") from None


WIDE_GRAY = ("I", "I;16", "I;16B", "I;16L")  # 16/32-bit gray: PIL's convert("RGB") clips these to white


def read_image(path: Path) -> Image.Image:
    """An image file as a decoded RGB PIL image (16-bit gray scaled to 8 bits, not clipped)."""
    with opened(path, "image") as image:
        if image.mode in WIDE_GRAY:
            values = np.asarray(image).astype(np.float64) / 257.0  # 0..65535 -> 0..255
            return Image.fromarray(np.clip(values.round(), 0, 255).astype(np.uint8)).convert("RGB")
        return image.convert("RGB")


def read_ids(path: Path, what: str = "label image") -> tuple[np.ndarray, str]:
    """A single-channel PNG's values as an (H, W) array and its PIL mode; colour pictures are refused."""
    with opened(path, what) as image:
        mode = image.mode
        ids = np.asarray(image) if mode in LABEL_MODES else None
    if ids is None:
        article = "an" if mode[0] in "AEFHILMNORSX" else "a"  # as the mode's first letter is spoken
        raise DatasetError(f"{path} is {article} {mode} image; labels must be single-channel PNGs of class ids 0..C-1 "
                           f"({IGNORE_INDEX} = don't care): convert colours to ids first (one id per colour)")
    return ids, mode


def check_ids(ids: np.ndarray, path: Path, num_classes: int, mode: str = "L") -> np.ndarray:
    """ids as uint8 after checking each is < num_classes or 255 (don't care)."""
    bad = ((ids < 0) | (ids >= num_classes)) & (ids != IGNORE_INDEX)
    if bad.any():
        value = int(ids[bad][0])
        what = "palette index" if mode == "P" else "class id"
        fix = "; palette labels must index colours by class id" if mode == "P" else ""
        raise DatasetError(f"{path}: {what} {value} is out of range; valid class ids are 0..{num_classes - 1} "
                           f"({IGNORE_INDEX} = don't care){fix}")
    return ids.astype(np.uint8)


def read_label(path: Path, num_classes: int) -> np.ndarray:
    """A label PNG -> (H, W) uint8 class ids, checked: single channel, ids < num_classes or 255 (don't care)."""
    ids, mode = read_ids(path)
    return check_ids(ids, path, num_classes, mode)


def read_instance(path: Path) -> np.ndarray:
    """An instance-id PNG (8, 16 or 32 bit) -> (H, W) int32 ids."""
    ids, _ = read_ids(path, "instance map")
    return ids.astype(np.int32)

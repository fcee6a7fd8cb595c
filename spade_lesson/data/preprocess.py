"""The official data preprocessing (options preprocess_mode, load_size, crop_size, aspect_ratio, no_flip), applied with
the same random crop and flip to a label map, its instance map and its image."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

from spade_lesson.data.errors import DatasetError

MODES = ("resize_and_crop", "scale_width_and_crop", "fixed", "none")  # the official preprocess_mode values
POWER_BASE = 32  # "none" rounds each side to a multiple of this, as the official __make_power_2


@dataclass(frozen=True)
class Crop:
    """One item's random draw: the crop's top-left corner (after resizing) and whether to flip left-right."""

    x: int = 0
    y: int = 0
    flip: bool = False


@dataclass(frozen=True)
class Preprocess:
    """How a picture of any size becomes a training example, as the official data/base_dataset.py does it.

    resize_and_crop: resize to load_size x load_size, crop a random crop_size square (ADE20K, COCO-Stuff: 286 -> 256);
    scale_width_and_crop: width to load_size keeping the aspect, then the random square crop;
    fixed: resize to crop_size x round(crop_size / aspect_ratio) (Cityscapes: 512 x 256);
    none: keep the size, rounded to multiples of 32. flip: a random left-right flip (training only, officially).
    """

    mode: str = "fixed"
    crop_size: int = 256
    load_size: int | None = None  # None: crop_size
    aspect_ratio: float = 1.0  # width / height, used by "fixed"
    flip: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise DatasetError(f"Preprocess: mode={self.mode!r}; choose one of {', '.join(MODES)}")
        for name in ("crop_size", "load_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise DatasetError(f"Preprocess: {name}={value!r}; pass a positive int")
        ratio = self.aspect_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio < float("inf"):
            raise DatasetError(f"Preprocess: aspect_ratio={ratio!r}; pass width / height as a positive number")
        if "crop" in self.mode and self.load < self.crop_size:
            raise DatasetError(f"Preprocess: load_size={self.load} is smaller than crop_size={self.crop_size}; "
                               f"{self.mode} crops from the resized picture, so load_size must be >= crop_size")

    @property
    def load(self) -> int:
        """The size pictures are resized to before cropping."""
        return self.crop_size if self.load_size is None else self.load_size

    def resized(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) a width x height picture is resized to before cropping."""
        if self.mode == "resize_and_crop":
            return self.load, self.load
        if self.mode == "scale_width_and_crop":
            return self.load, int(self.load * height / width)
        if self.mode == "fixed":
            return self.crop_size, round(self.crop_size / self.aspect_ratio)
        return (max(POWER_BASE, round(width / POWER_BASE) * POWER_BASE),
                max(POWER_BASE, round(height / POWER_BASE) * POWER_BASE))

    def draw(self, width: int, height: int, generator: torch.Generator | None = None) -> Crop:
        """A random crop corner and flip for a width x height picture (torch's RNG, so DataLoader workers differ)."""
        new_width, new_height = self.resized(width, height)
        cropping = "crop" in self.mode
        x = int(torch.randint(max(0, new_width - self.crop_size) + 1, (), generator=generator)) if cropping else 0
        y = int(torch.randint(max(0, new_height - self.crop_size) + 1, (), generator=generator)) if cropping else 0
        flip = self.flip and bool(torch.rand((), generator=generator) > 0.5)
        return Crop(x, y, flip)

    def apply(self, picture: Image.Image, crop: Crop, resample: Image.Resampling, fill: int = 0) -> Image.Image:
        """picture resized (with resample), cropped and flipped as crop says; crop area past the edge gets fill."""
        picture = picture.resize(self.resized(*picture.size), resample)
        if "crop" in self.mode:
            size = self.crop_size
            inside = picture.crop((crop.x, crop.y, min(crop.x + size, picture.width),
                                   min(crop.y + size, picture.height)))
            picture = Image.new(picture.mode, (size, size), fill if picture.mode != "RGB" else (fill,) * 3)
            picture.paste(inside, (0, 0))
        return picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if crop.flip else picture

    @classmethod
    def resize_to(cls, size: tuple[int, int]) -> Preprocess:
        """The plain resize to (H, W) that SegmentationFolder's size means: "fixed" with aspect ratio W / H."""
        height, width = size
        return cls("fixed", crop_size=width, aspect_ratio=width / height)

"""Decoding data files: decompression bombs, truncated and zero-byte files, colour labels, each one line naming it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hostile import png_bytes, png_claiming, truncated
from PIL import Image

from spade_lesson.data.decode import read_image, read_instance, read_label
from spade_lesson.data.errors import DatasetError


def one_line(error: pytest.ExceptionInfo, *parts: str) -> None:
    """The message is one line and mentions every part."""
    message = str(error.value)
    assert "\n" not in message, message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.mark.parametrize("read", [read_image, lambda path: read_label(path, 3), read_instance])
def test_decompression_bomb_header_is_one_line(tmp_path: Path, read) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(40000, 40000))  # 1.6 G pixels: over twice PIL's limit (DecompressionBombError)
    with pytest.raises(DatasetError) as error:
        read(path)
    one_line(error, str(path), "MAX_IMAGE_PIXELS")


def test_decompression_bomb_warning_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "large.png"
    path.write_bytes(png_claiming(10000, 10000))  # 100 M pixels: over PIL's limit, under twice it (a warning)
    assert Image.MAX_IMAGE_PIXELS < 10000 * 10000 < 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(DatasetError) as error:
        read_image(path)
    one_line(error, str(path), "MAX_IMAGE_PIXELS")


@pytest.mark.parametrize("damage", ["truncated", "zero-byte"])
@pytest.mark.parametrize("kind", ["image", "label", "instance"])
def test_truncated_and_empty_files(tmp_path: Path, damage: str, kind: str) -> None:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) if kind == "image" else \
        rng.integers(0, 3, (64, 64), dtype=np.uint8)
    path = tmp_path / f"{kind}.png"
    path.write_bytes(truncated(png_bytes(array)) if damage == "truncated" else b"")
    read = {"image": read_image, "label": lambda p: read_label(p, 3), "instance": read_instance}[kind]
    with pytest.raises(DatasetError) as error:
        read(path)
    one_line(error, str(path), "cannot read")


def test_truncated_jpeg_image(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    path.write_bytes(truncated(path.read_bytes()))
    with pytest.raises(DatasetError) as error:
        read_image(path)
    one_line(error, str(path), "cannot read")


def test_label_ids_checked_and_instance_ids_kept(tmp_path: Path) -> None:
    label = np.array([[0, 1, 255], [2, 2, 7]], dtype=np.uint8)
    Image.fromarray(label).save(tmp_path / "l.png")
    with pytest.raises(DatasetError) as error:
        read_label(tmp_path / "l.png", 3)
    one_line(error, "class id 7", "0..2")
    assert read_label(tmp_path / "l.png", 8).tolist() == label.tolist()
    ids = np.array([[0, 26001], [26002, 7]], dtype=np.uint16)  # Cityscapes-style ids past 255, a 16-bit PNG
    Image.fromarray(ids).save(tmp_path / "i.png")
    assert read_instance(tmp_path / "i.png").tolist() == ids.tolist()


def test_a_16_bit_gray_image_is_scaled_not_clipped_to_white(tmp_path: Path) -> None:
    path = tmp_path / "gray16.png"
    Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.uint16)).save(path)
    assert np.asarray(read_image(path))[0, :, 0].tolist() == [0, 128, 255]

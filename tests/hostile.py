"""Hostile files built on the spot, shared by the data tests: a PNG header claiming a huge size, truncated files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def png_claiming(width: int, height: int, mode_byte: int = 0) -> bytes:
    """A valid PNG signature and IHDR that claim width x height (8-bit gray, or colour type mode_byte), no pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, mode_byte, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def png_bytes(array: np.ndarray) -> bytes:
    """array as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def truncated(data: bytes) -> bytes:
    """The first 60% of a file's bytes, as a download cut short leaves it."""
    return data[: len(data) * 6 // 10]

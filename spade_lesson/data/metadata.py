"""dataset.json: a dataset's class names and palette, checked the same way by the downloader and the loader."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from spade_lesson.data.errors import DatasetError
from spade_lesson.data.layout import CLASS_NAMES, MAX_CLASSES, PALETTE
from spade_lesson.data.semantic import IGNORE_INDEX

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Metadata:
    """What dataset.json says: one name per class id, and one colour per class when it gives a palette."""

    class_names: list[str]
    palette: list[Color] | None


def _is_color(value: object) -> bool:
    """An [r, g, b] list of three ints in 0..255."""
    return (isinstance(value, (list, tuple)) and len(value) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value))


def parse_metadata(meta: object, origin: str | Path) -> Metadata:
    """Check a parsed dataset.json (origin names it in errors): a dict whose class_names is 1..255 strings."""
    example = '{"class_names": ["sky", "road", ...], "palette": [[r, g, b], ...]}'
    if not isinstance(meta, dict):
        raise DatasetError(f"{origin}: must hold a JSON object such as {example}, not a {type(meta).__name__}")
    names = meta.get(CLASS_NAMES)
    if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
        got = "nothing" if names is None else json.dumps(names)[:60]
        raise DatasetError(f"{origin}: {CLASS_NAMES!r} must be a non-empty list of strings (one per class id), got "
                           f"{got}; write it as {example}")
    if len(names) > MAX_CLASSES:
        raise DatasetError(f"{origin}: names {len(names)} classes, but label PNGs hold ids 0..{MAX_CLASSES - 1} "
                           f"({IGNORE_INDEX} = don't care), so at most {MAX_CLASSES}; merge classes or drop names")
    palette = meta.get(PALETTE)
    if palette is None:
        return Metadata(list(names), None)
    if not isinstance(palette, list) or len(palette) != len(names) or not all(_is_color(c) for c in palette):
        count = f"{len(palette)} colours" if isinstance(palette, list) else f"a {type(palette).__name__}"
        raise DatasetError(f"{origin}: needs one [r, g, b] (0..255) palette entry per class name, got {count} for "
                           f"{len(names)} names; fix {PALETTE!r} or leave it out")
    return Metadata(list(names), [tuple(color) for color in palette])


def read_metadata(path: Path) -> Metadata | None:
    """The checked contents of the dataset.json at path, or None when there is none."""
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: cannot read it as JSON ({error}); fix the JSON or re-run the download "
                           "script") from None
    return parse_metadata(meta, path)

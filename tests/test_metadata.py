"""dataset.json shapes: the downloader and the loader refuse the same bad files in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spade_lesson.data.errors import DatasetError
from spade_lesson.data.metadata import parse_metadata, read_metadata


@pytest.mark.parametrize("meta, named", [
    (["sky", "road"], "not a list"),
    ({"class_names": 5}, "got 5"),
    ({"class_names": "skyroadcar"}, 'got "skyroadcar"'),
    ({"class_names": []}, "got []"),
    ({"class_names": ["sky", 3]}, 'got ["sky", 3]'),
    ({"palette": [[0, 0, 0]]}, "got nothing"),
    ({"class_names": [f"c{i}" for i in range(300)]}, "names 300 classes"),
    ({"class_names": ["a", "b"], "palette": [[0, 0, 0]]}, "1 colours for 2 names"),
    ({"class_names": ["a"], "palette": [[0, 0, 300]]}, "palette entry per class"),
    ({"class_names": ["a"], "palette": "red"}, "a str for 1 names"),
])
def test_bad_shapes_are_one_line(meta: object, named: str) -> None:
    with pytest.raises(DatasetError) as error:
        parse_metadata(meta, "x/dataset.json")
    message = str(error.value)
    assert "\n" not in message and message.startswith("x/dataset.json: ") and named in message, message


def test_good_file_and_optional_palette(tmp_path: Path) -> None:
    assert read_metadata(tmp_path / "dataset.json") is None
    (tmp_path / "dataset.json").write_text(json.dumps({"class_names": ["sky", "sea"]}))
    meta = read_metadata(tmp_path / "dataset.json")
    assert meta.class_names == ["sky", "sea"] and meta.palette is None
    full = parse_metadata({"class_names": ["a"] * 255, "palette": [[1, 2, 3]] * 255}, "ok")
    assert len(full.class_names) == 255 and full.palette[0] == (1, 2, 3)


def test_not_json(tmp_path: Path) -> None:
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(DatasetError) as error:
        read_metadata(tmp_path / "dataset.json")
    assert "cannot read it as JSON" in str(error.value) and "\n" not in str(error.value)

"""spade_lesson.runtime.atomic: an interrupted write leaves the old file and no temporary; results read like any
file."""

from __future__ import annotations

import json
import os

import pytest

from spade_lesson.runtime.atomic import atomic_write, write_text


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path) -> None:
    path = tmp_path / "results.json"
    write_text(path, json.dumps({"runs": [1]}))
    for mode, half in (("w", "half a docu"), ("wb", b"\x80half")):
        with pytest.raises(RuntimeError):
            with atomic_write(path, mode) as file:
                file.write(half)
                raise RuntimeError("interrupted")
        assert json.loads(path.read_text()) == {"runs": [1]}
        assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_finished_write_replaces_the_file_in_a_new_folder_with_normal_permissions(tmp_path) -> None:
    path = tmp_path / "new" / "folder" / "weights.bin"
    with atomic_write(path) as file:
        file.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    write_text(path, "héllo")  # text is UTF-8 whatever the locale
    assert path.read_bytes() == "héllo".encode()
    umask = os.umask(0o022)
    try:
        write_text(path, "again")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's owner-only 0o600

"""spade_lesson.runtime.atomic: an interrupted write leaves the old file and no temporary; results read like any
file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from one_line import one_line

from spade_lesson.runtime.atomic import atomic_write, remove_stale_temporaries, write_text

ROOT = Path(__file__).resolve().parents[1]


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


# ---- a full disk and a killed write ----

def test_disk_full_during_an_atomic_write_keeps_the_old_file_and_no_temporary(tmp_path, full_disk) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"runs": [1]}')
    with pytest.raises(OSError) as error:
        write_text(path, '{"runs": [1, 2]}' * 10_000)
    one_line(str(error.value), "disk full", str(path), "previous results.json is intact", "free some space")
    assert error.value.errno == 28
    assert path.read_text() == '{"runs": [1]}'
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_disk_full_inside_torch_save_is_named_as_a_full_disk(tmp_path, full_disk) -> None:
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(OSError) as error, atomic_write(path) as file:
        torch.save({"G": torch.zeros(100_000)}, file)  # torch wraps the ENOSPC in a RuntimeError
    one_line(str(error.value), "disk full", str(path), "no checkpoint.pt was written")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_temporaries_of_a_killed_write_are_removed_and_nothing_else(tmp_path) -> None:
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"old")
    killed = subprocess.run(
        [sys.executable, "-c", "import os, sys\nfrom spade_lesson.runtime.atomic import atomic_write\n"
         "with atomic_write(sys.argv[1]) as file:\n    file.write(b'half')\n    file.flush()\n"
         "    os.kill(os.getpid(), 9)\n", str(target)],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, check=False)
    assert killed.returncode == -9, killed.stderr
    (left,) = [path for path in tmp_path.iterdir() if path.name != "checkpoint.pt"]
    assert left.name.startswith(".checkpoint.pt.") and left.name.endswith(".tmp")
    keep = [".hidden.tmp", "notes.abcd1234.tmp", ".losses.jsonl.abcd1234.tmp.bak", "losses.jsonl"]
    for name in keep:
        (tmp_path / name).write_text("user's")
    (tmp_path / ".folder.abcdefgh.tmp").mkdir()
    assert remove_stale_temporaries(tmp_path) == [left]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, ".folder.abcdefgh.tmp", "checkpoint.pt"])
    assert target.read_bytes() == b"old"
    assert remove_stale_temporaries(tmp_path / "missing") == []



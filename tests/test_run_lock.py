"""spade_lesson.runtime.run_lock: a run owns its folder; a second run stops in one line, a dead run's lock is taken."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from spade_lesson.cli import main
from spade_lesson.runtime.run_lock import LOCK_NAME, RunFolderBusy, acquire, hold_run_folder
from spade_lesson.training.config import fast_config
from spade_lesson.training.loop import train


@pytest.fixture
def live_process():
    """Another live process on this machine (its pid is what a lock names)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def lock_of(folder, pid, host=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(),
                                                "started": "2026-01-01 00:00:00"}))


def test_a_folder_held_by_a_live_process_is_refused_naming_it(tmp_path, live_process):
    lock_of(tmp_path, live_process.pid)
    with pytest.raises(RunFolderBusy, match=f"in use by the run of process {live_process.pid} on this machine"):
        acquire(tmp_path)
    lock_of(tmp_path, 1, host="another-machine")
    with pytest.raises(RunFolderBusy, match="on host another-machine"):
        acquire(tmp_path)


def test_a_dead_process_lock_is_taken_over_and_released_after(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_of(tmp_path, dead.pid)
    (tmp_path / LOCK_NAME).write_text("not json")  # a torn lock counts as stale too
    with hold_run_folder(tmp_path):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
        with pytest.raises(RunFolderBusy):  # held: a second run in this very process is refused as well
            acquire(tmp_path)
    assert not (tmp_path / LOCK_NAME).exists()
    lock_of(tmp_path, dead.pid)
    with hold_run_folder(tmp_path):
        pass
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_second_train_into_a_live_runs_folder_stops_and_leaves_its_files(tmp_path, live_process, capsys):
    out = tmp_path / "run"
    lock_of(out, live_process.pid)
    temporary = out / ".checkpoint.pt.abcd1234.tmp"  # the live run's checkpoint being written
    temporary.write_bytes(b"partial")
    with pytest.raises(RunFolderBusy):
        train(fast_config(out=str(out)), progress=False)
    assert temporary.read_bytes() == b"partial"
    assert main(["train", "--out", str(out), "--steps", "1"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"process {live_process.pid}" in error and "another --out" in error
    assert temporary.exists() and sorted(path.name for path in out.iterdir()) == sorted([LOCK_NAME, temporary.name])


def test_a_finished_run_leaves_no_lock(tmp_path):
    train(fast_config(out=str(tmp_path), steps=1, sample_every=1, checkpoint_every=1), progress=False)
    assert not (tmp_path / LOCK_NAME).exists()

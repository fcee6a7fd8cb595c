"""A run owns its folder: a lock file naming the process (pid, host) that writes there, held while it runs.

A second run into the same folder stops with one line naming the first; the lock of a process that died (kill -9, a
crashed kernel) on this machine is taken over. Only the run holding the lock clears stale temporaries there, so it
never deletes a live run's files.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from spade_lesson.runtime.atomic import check_folder

LOCK_NAME = ".run.lock"


class RunFolderBusy(ValueError):
    """Another live process holds the run folder."""


def _alive(pid: int) -> bool:
    """True when process pid exists on this machine (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(path: Path) -> dict | None:
    """The lock file's {"pid", "host", "started"}, or None when it is unreadable or not ours."""
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(holder, dict) and isinstance(holder.get("pid"), int) and isinstance(holder.get("host"), str)
    return holder if ok else None


def _try_create(path: Path, holder: dict) -> bool:
    """Create the lock file holding holder, only if none exists; True when this call made it."""
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(handle, "w") as file:
        json.dump(holder, file)
    return True


def acquire(folder: Path) -> Path:
    """Take folder's lock for this process; RunFolderBusy (one line) when a live process holds it."""
    path = check_folder(folder) / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(3):  # a lock that vanishes or goes stale between looks is tried again
        if _try_create(path, me):
            return path
        holder = _holder(path)
        if holder is not None and (holder["host"] != me["host"] or _alive(holder["pid"])):
            where = "this machine" if holder["host"] == me["host"] else f"host {holder['host']}"
            raise RunFolderBusy(f"{folder} is in use by the run of process {holder['pid']} on {where} (since "
                                f"{holder.get('started', '?')}): wait for it to finish, or pass another --out; delete "
                                f"{path} only if that run is gone")
        stale = path.with_name(f"{LOCK_NAME}.{os.getpid()}.stale")  # a dead process's lock: move it aside, retry
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, stale)
            stale.unlink()
    raise RunFolderBusy(f"{path}: could not take the run folder's lock (other runs keep starting there): pass "
                        "another --out")


def release(path: Path) -> None:
    """Remove the lock at path if this process still holds it."""
    holder = _holder(path)
    if holder is not None and holder["pid"] == os.getpid() and holder["host"] == socket.gethostname():
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def hold_run_folder(folder: str | os.PathLike, enabled: bool = True) -> Iterator[None]:
    """Hold folder's lock for the duration (enabled=False: do nothing, e.g. in torchrun's other processes)."""
    if not enabled:
        yield
        return
    path = acquire(Path(folder))
    try:
        yield
    finally:
        release(path)

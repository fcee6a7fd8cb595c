"""Writes that never leave a half-written file behind: a temporary file beside the target, then os.replace.

A run killed mid-write (Ctrl-C, out of memory, a full disk) leaves the old file, or none, never a truncated one that a
later run would trust. Every file the package writes for later reading goes through `atomic_write`; a write that was
killed outright (kill -9) can leave its temporary, which `remove_stale_temporaries` clears when the next run starts.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # no space left on device, disk quota exceeded
TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")  # what mkstemp(prefix=".NAME.", suffix=".tmp") names a file


def disk_full(error: BaseException) -> OSError | None:
    """The OSError 'no space' / 'quota exceeded' behind error (torch.save wraps it in a RuntimeError), or None."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in DISK_FULL:
            return error
        error = error.__cause__ or error.__context__
    return None


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """A file opened with mode ("wb" or "w", UTF-8) that replaces path only if the block finishes; makes the folder.

    A full disk raises a one-line OSError naming path and saying the old file is intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as file:
            yield file
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file owner-only; the result should read like any other file
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        full = disk_full(error)
        if full is None:
            raise
        old = f"the previous {path.name} is intact" if path.exists() else f"no {path.name} was written"
        raise OSError(full.errno, f"disk full while writing {path}: {old} and the partial temporary was removed; "
                                  "free some space and run again") from error


def check_folder(folder: str | os.PathLike) -> Path:
    """Make folder (and its parents) and prove a file can be written there; a one-line ValueError naming it if not."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-").close()
    except OSError as error:
        raise ValueError(f"out={str(folder)!r} is not a writable folder ({error.strerror}): pick another --out") \
            from None
    return folder


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write text to path atomically."""
    with atomic_write(path, "w") as file:
        file.write(text)


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the `.NAME.xxxxxxxx.tmp` files that writes killed outright left in folder; returns what was removed.

    Call it when a run starts, before anything in folder is written (a temporary of a write in progress would go too).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [path for path in folder.iterdir()
             if TEMPORARY.fullmatch(path.name) and path.is_file() and not path.is_symlink()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale

"""Writes that never leave a half-written file behind: a temporary file beside the target, then os.replace.

A run killed mid-write (Ctrl-C, out of memory, a full disk) leaves the old file, or none, never a truncated one that a
later run would trust. Every file the package writes for later reading goes through `atomic_write`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """A file opened with mode ("wb" or "w", UTF-8) that replaces path only if the block finishes; makes the folder."""
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
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write text to path atomically."""
    with atomic_write(path, "w") as file:
        file.write(text)

"""DatasetError: bad data on disk, said in one line (also when it was raised inside a DataLoader worker)."""

from __future__ import annotations

import re

# torch re-raises a worker's exception as exc_type("Caught X in DataLoader worker process N.\nOriginal Traceback ...");
# the last line of that traceback is "<module>.<ExcType>: <the original message>"
_WORKER_TAIL = re.compile(r"^(?:[\w.]+\.)?\w+: (.*)$")


class DatasetError(ValueError):
    """A dataset file or folder the user can fix; str() is one line naming the file and the fix."""

    def __init__(self, message: str = "") -> None:
        if message.startswith("Caught ") and "\n" in message:  # re-raised by a DataLoader worker: keep the original
            match = _WORKER_TAIL.match(message.rstrip().splitlines()[-1])
            message = match.group(1) if match else message
        super().__init__(message)


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A dataset folder, split or prepared dataset that is not there."""


class DownloadError(Exception):
    """A download or preparation failure the user can fix; its message is the one line printed (what, where, fix)."""

"""Fetching an archive: resumable HTTP download (Range), retries with backoff, and verification before it counts."""

from __future__ import annotations

import hashlib
import http.client
import lzma
import os
import re
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from tqdm.auto import tqdm

from spade_lesson.data.errors import DownloadError

TIMEOUT_S = 60.0  # seconds a connection may stay silent
RETRIES = 4  # attempts per download before giving up
BACKOFF_S = 2.0  # wait before the first retry; doubled after each failed attempt
CHUNK = 1 << 20


class _Dropped(ConnectionError):
    """A transfer that ended early or must start over; the retry loop tries again."""


def _content_range(header: str) -> tuple[int | None, int | None]:
    """'bytes 100-199/200' -> (100, 200); 'bytes */200' -> (None, 200); unknown parts are None."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", header or "")
    if match is None:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total and total != "*" else None)


def _transfer(url: str, part: Path) -> None:
    """One attempt: append the rest of url to part (Range: bytes=<size>-), restarting if the server ignores Range."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "spade-lesson-download"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code != 416 or not have:
            raise
        _, total = _content_range(err.headers.get("Content-Range", ""))
        err.close()
        if total == have:
            return  # an earlier run had already received every byte
        part.unlink()
        raise _Dropped("the server refused to resume (HTTP 416); starting over") from None
    with response:
        if response.status == 206:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            if start != have:
                part.unlink()
                raise _Dropped("the server resumed at the wrong offset; starting over")
            mode = "ab"
        else:  # 200: the server ignored Range and sends the whole file
            have, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            total = int(length) if length else None
        with part.open(mode) as file, tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                                           desc=part.name.removesuffix(".part")) as bar:
            while chunk := response.read(CHUNK):
                file.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size < total:
        raise _Dropped(f"the connection dropped after {size} of {total} bytes")


def _download(url: str, part: Path) -> None:
    """Fetch url into part, retrying dropped or failed transfers with exponential backoff (each retry resumes)."""
    part.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, RETRIES + 1):
        try:
            _transfer(url, part)
            return
        except urllib.error.HTTPError as err:
            if err.code < 500 or attempt == RETRIES:
                raise DownloadError(f"{url}: HTTP {err.code} {err.reason}; check the URL (or --mirror), or put the "
                                    f"archive in {part.parent} by hand and run again") from None
            reason = f"HTTP {err.code} {err.reason}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException) as err:
            reason = str(getattr(err, "reason", err))
            if attempt == RETRIES:
                raise DownloadError(f"{url}: {reason} ({RETRIES} attempts); check the network and the URL, then run "
                                    f"again (it resumes from {part})") from None
        delay = BACKOFF_S * 2 ** (attempt - 1)
        print(f"{url}: {reason}; retry {attempt}/{RETRIES - 1} in {delay:g} s", file=sys.stderr)
        time.sleep(delay)


def _sha256(path: Path) -> str:
    """The file's SHA-256 as lowercase hex."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def archive_problem(path: Path) -> str | None:
    """None when path is a readable zip (every CRC checked) or tar (every member read); otherwise what is wrong."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
            return None if bad is None else f"corrupt archive (CRC error in {bad!r})"
        with tarfile.open(path) as archive:
            for member in archive:
                if member.isfile():
                    reader = archive.extractfile(member)
                    while reader.read(CHUNK):
                        pass
        return None
    except NotImplementedError as err:
        return f"unsupported zip compression ({err}); re-pack it with plain deflate"
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as err:
        return f"not a complete zip or tar archive ({err})"


def verify(path: Path, sha256: str | None, fix: str) -> None:
    """Raise DownloadError (ending in fix) unless path matches sha256 (when given) and passes archive_problem."""
    if sha256:
        got = _sha256(path)
        if got != sha256.lower():
            raise DownloadError(f"{path}: sha256 is {got}, expected {sha256.lower()}; {fix}")
    problem = archive_problem(path)
    if problem:
        raise DownloadError(f"{path}: {problem}; {fix}")


def fetch(url: str, dest: Path, sha256: str | None = None) -> Path:
    """Download url to dest via dest.part (resumable), verify it, then rename it; an existing dest is re-verified."""
    if dest.exists():
        verify(dest, sha256, "delete it (or fix --sha256) and run again")
        return dest
    part = dest.with_name(dest.name + ".part")
    _download(url, part)
    try:
        verify(part, sha256, f"deleted it; check {url} (and --sha256), then run again")
    except DownloadError:
        part.unlink()
        raise
    os.replace(part, dest)
    return dest

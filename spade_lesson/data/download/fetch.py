"""Fetching an archive: resumable HTTP download (Range), retries with backoff, and verification before it counts."""

from __future__ import annotations

import errno
import hashlib
import http.client
import lzma
import os
import re
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path

from tqdm.auto import tqdm

from spade_lesson.data.errors import DownloadError

TIMEOUT_S = 30.0  # seconds a connection may stay silent (headers, or between two reads)
STALL_S, STALL_BYTES = 60.0, 64 * 1024  # fewer bytes than this in this many seconds: a stalled transfer, retried
MAX_BYTES = 64 * 2**30  # the largest archive fetched (COCO-Stuff's images, the largest, are 19 GB)
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


def one_line(text: object) -> str:
    """text with its line breaks and runs of spaces made single spaces (servers' reasons can span lines)."""
    return " ".join(str(text).split())


def check_url(url: str) -> str:
    """url when it is http(s)://host/...; else a DownloadError saying what to pass (never retried)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DownloadError(f"{url!r} is not an http:// or https:// address: pass the full URL, e.g. "
                            "https://example.org/mine.zip")
    return url


def _check_size(total: int | None, have: int, part: Path) -> None:
    """Refuse (before any byte) a transfer larger than MAX_BYTES or than the free space beside part."""
    if total is None:
        return
    if total > MAX_BYTES:
        raise DownloadError(f"{part.name.removesuffix('.part')}: the server announces {total} bytes, more than the "
                            f"{MAX_BYTES / 2**30:.3g} GiB any dataset archive here needs; check the URL")
    free = shutil.disk_usage(part.parent).free
    if total - have > free:
        raise DownloadError(f"{part.parent} has {free // 2**20} MiB free but the download needs "
                            f"{(total - have) // 2**20} MiB more: free some space (or pass another --root), then run "
                            "again")


def _copy(response: http.client.HTTPResponse, part: Path, mode: str, have: int, total: int | None) -> None:
    """Append the response body to part with a progress bar; a body past MAX_BYTES, a stalled one (under
    STALL_BYTES in STALL_S) or a full disk ends it."""
    window, window_bytes = time.monotonic(), 0
    try:
        with part.open(mode) as file, tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                                           desc=part.name.removesuffix(".part")) as bar:
            while chunk := response.read1(CHUNK):
                file.write(chunk)
                bar.update(len(chunk))
                have += len(chunk)
                if have > MAX_BYTES or (total is not None and have > total):
                    file.close()
                    part.unlink()
                    raise DownloadError(f"{part.name.removesuffix('.part')}: the server sent more than "
                                        f"{total if total is not None else MAX_BYTES} bytes; deleted the partial "
                                        "file; check the URL")
                window_bytes += len(chunk)
                if time.monotonic() - window >= STALL_S:
                    if window_bytes < STALL_BYTES:
                        raise _Dropped(f"the transfer stalled ({window_bytes} bytes in {STALL_S:g} s)")
                    window, window_bytes = time.monotonic(), 0
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        part.unlink(missing_ok=True)
        raise DownloadError(f"disk full while writing {part}: deleted it; free some space in {part.parent} (or "
                            "pass another --root), then run again") from None


def _transfer(url: str, part: Path) -> None:
    """One attempt: append the rest of url to part (Range: bytes=<size>-), restarting if the server ignores Range."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "spade-lesson-download", "Accept-Encoding": "identity"}
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
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise DownloadError(f"{url}: the server compressed the transfer (Content-Encoding: {encoding}), which "
                                f"would corrupt the archive; download it by hand into {part.parent} and run again")
        if response.status == 206:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            if start != have:
                part.unlink()
                raise _Dropped("the server resumed at the wrong offset; starting over")
            mode = "ab"
        else:  # 200: the server ignored Range and sends the whole file
            have, mode = 0, "wb"
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.strip().isdigit() else None
        _check_size(total, have, part)
        _copy(response, part, mode, have, total)
    size = part.stat().st_size
    if total is not None and size < total:
        raise _Dropped(f"the connection dropped after {size} of {total} bytes")


def _download(url: str, part: Path) -> None:
    """Fetch url into part, retrying dropped or failed transfers with exponential backoff (each retry resumes)."""
    check_url(url)
    part.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, RETRIES + 1):
        try:
            _transfer(url, part)
            return
        except urllib.error.HTTPError as err:
            if err.code < 500 or attempt == RETRIES:
                raise DownloadError(f"{url}: HTTP {err.code} {one_line(err.reason)}; check the URL (or --mirror), or "
                                    f"put the archive in {part.parent} by hand and run again") from None
            reason = f"HTTP {err.code} {one_line(err.reason)}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException) as err:
            reason = one_line(getattr(err, "reason", err))
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
        with path.open("rb") as file:
            start = file.read(512).lstrip().lower()
        if start.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
            return "a web page (HTML), not an archive: the URL leads to a page (a login or an error?), not the file"
        return f"not a complete zip or tar archive ({str(err).splitlines()[0].rstrip(':')})"


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

"""Safe extraction of zip and tar archives: nothing lands outside the target, links become copies, sizes are capped."""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from tqdm.auto import tqdm

from spade_lesson.data.errors import DownloadError

CHUNK = 1 << 20
MAX_MEMBER_BYTES = 2 << 30  # one extracted file; COCO's largest (instances_train2017.json) is 0.45 GB
MAX_TOTAL_BYTES = 64 << 30  # one extraction; COCO's train2017.zip, the largest archive here, holds 19 GB


@dataclass(frozen=True)
class _Entry:
    """One archive entry, reduced to what a safe extraction needs."""

    path: PurePosixPath
    kind: str  # "file", "dir" or "link"
    link: PurePosixPath | None = None  # for links: the archive path they point to
    open: Callable[[], IO[bytes]] | None = None  # for files: a reader of the entry's bytes
    size: int = 0  # for files: the size the archive declares


def _safe_path(archive: Path, name: str) -> PurePosixPath:
    """An entry's name as a relative path; refuses absolute names and '..' components."""
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if posix.startswith("/") or ".." in parts or (parts and parts[0].endswith(":")):
        raise DownloadError(f"{archive}: entry {name!r} points outside the extraction folder (absolute path or '..'); "
                            f"refusing to extract it - re-pack the archive with relative paths")
    return PurePosixPath(*parts)


def _link_target(archive: Path, path: PurePosixPath, link: str, from_root: bool) -> PurePosixPath:
    """Where a link entry points inside the archive (symlinks: relative to their folder); refuses links pointing out."""
    joined = link if from_root else posixpath.join(str(path.parent), link)
    normal = posixpath.normpath(joined.replace("\\", "/"))
    if link.startswith(("/", "\\")) or normal == ".." or normal.startswith("../"):
        raise DownloadError(f"{archive}: link {str(path)!r} -> {link!r} points outside the extraction folder; refusing "
                            f"to extract it - re-pack the archive without links")
    return PurePosixPath(normal)


def _zip_entry(archive: Path, source: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Entry:
    """A zip entry as an _Entry (unix symlinks included); refuses device files."""
    path = _safe_path(archive, info.filename)
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return _Entry(path, "link", link=_link_target(archive, path, source.read(info).decode(), from_root=False))
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise DownloadError(f"{archive}: entry {info.filename!r} is a device or special file; refusing to extract it")
    if info.is_dir() or kind == stat.S_IFDIR:
        return _Entry(path, "dir")
    return _Entry(path, "file", open=partial(source.open, info), size=info.file_size)


def _tar_entry(archive: Path, source: tarfile.TarFile, member: tarfile.TarInfo) -> _Entry:
    """A tar member as an _Entry; refuses device files and fifos."""
    path = _safe_path(archive, member.name)
    if member.issym() or member.islnk():
        return _Entry(path, "link", link=_link_target(archive, path, member.linkname, from_root=member.islnk()))
    if member.isdir():
        return _Entry(path, "dir")
    if member.isfile():
        return _Entry(path, "file", open=partial(source.extractfile, member), size=member.size)
    raise DownloadError(f"{archive}: entry {member.name!r} is a device or special file; refusing to extract it")


def _gib(size: int) -> str:
    """A byte count in GiB, two decimals."""
    return f"{size / 2**30:.2f} GiB"


def _check_sizes(archive: Path, entries: list[_Entry], files: dict[PurePosixPath, _Entry],
                 select: Callable[[str], bool]) -> None:
    """Refuse the archive when a selected file or all of them together would extract past the caps."""
    # the declared sizes bound what is written: zipfile and tarfile stop reading a member at its declared size
    total = 0
    for entry in entries:
        source = entry if entry.kind == "file" else files.get(entry.link) if entry.kind == "link" else None
        if source is None or not entry.path.parts or not select(str(entry.path)):
            continue
        if source.size > MAX_MEMBER_BYTES:
            raise DownloadError(f"{archive}: entry {str(entry.path)!r} would extract to {_gib(source.size)}, over the "
                                f"{_gib(MAX_MEMBER_BYTES)} limit per file; refusing to extract it - remove that file "
                                f"from the archive")
        total += source.size
    if total > MAX_TOTAL_BYTES:
        raise DownloadError(f"{archive}: its files would extract to {_gib(total)}, over the {_gib(MAX_TOTAL_BYTES)} "
                            f"limit; refusing to extract it - split the archive or check that it is the right one")


def _unpack(archive: Path, entries: list[_Entry], target: Path, select: Callable[[str], bool]) -> None:
    """Write the selected entries into a temp folder beside target, then rename it to target."""
    # Every entry was checked before this runs, and links are never created on disk (a link to a file inside the
    # archive is written as a copy of that file, others are skipped), so nothing can land outside target.
    files = {entry.path: entry for entry in entries if entry.kind == "file"}
    _check_sizes(archive, entries, files, select)
    temp = target.with_name(f".{target.name}.extracting")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    try:
        for entry in tqdm(entries, desc=f"extracting {archive.name}", unit="entry"):
            if not entry.path.parts or not select(str(entry.path)):
                continue
            dest = temp.joinpath(*entry.path.parts)
            if entry.kind == "dir":
                dest.mkdir(parents=True, exist_ok=True)
                continue
            source = entry if entry.kind == "file" else files.get(entry.link)
            if source is None:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with source.open() as reader, dest.open("wb") as writer:
                shutil.copyfileobj(reader, writer, CHUNK)
        os.replace(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def extract(archive: Path, target: Path, select: Callable[[str], bool] = lambda name: True) -> Path:
    """Unpack a zip or tar(.gz/.bz2/.xz) archive into target, refusing it whole if any entry would land outside."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as source:
            _unpack(archive, [_zip_entry(archive, source, info) for info in source.infolist()], target, select)
    else:
        with tarfile.open(archive) as source:
            _unpack(archive, [_tar_entry(archive, source, member) for member in source.getmembers()], target, select)
    return target



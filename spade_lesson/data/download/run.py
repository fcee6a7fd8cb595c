"""prepare_dataset: download (or take from disk) one dataset and prepare it as <root>/<name>, or say it already is."""

from __future__ import annotations

import urllib.parse
from functools import partial
from pathlib import Path, PurePosixPath

from spade_lesson.data.download import recipes
from spade_lesson.data.download.cocostuff import COCOSTUFF_URLS, cocostuff_plan
from spade_lesson.data.download.fetch import fetch
from spade_lesson.data.download.prepare import build
from spade_lesson.data.errors import DownloadError
from spade_lesson.data.layout import MARKER

DOWNLOADS = "downloads"  # <root>/downloads keeps the archives
# the datasets fetched from public addresses: (their archives, the function that turns them into a Plan)
PUBLIC = {
    "facades": (recipes.FACADES_URLS, recipes.facades_plan),
    "ade20k": ((recipes.ADE20K_URL,), recipes.ade20k_plan),
    "ade20k-outdoor": ((recipes.ADE20K_URL,), partial(recipes.ade20k_plan, outdoor=True)),
    "cocostuff": (COCOSTUFF_URLS, cocostuff_plan),
}
DATASETS = (*PUBLIC, "cityscapes")


def archive_name(url: str) -> str:
    """The file name at the end of url's path."""
    return PurePosixPath(urllib.parse.urlparse(url).path).name


def prepare_dataset(dataset: str | None = None, root: Path = Path("data"), *, url: str | None = None,
                    name: str | None = None, sha256: str | None = None, mirror: str | None = None,
                    local: Path | None = None) -> Path:
    """Prepare a known dataset, or the archive at url as name, under root; returns <root>/<name>."""
    name = name or dataset
    target = root / name
    if (target / MARKER).is_file():
        print(f"already prepared: {target}")
        return target
    if target.exists():
        raise DownloadError(f"{target} exists but is not a finished preparation (no {MARKER}); move it away or choose "
                            f"another --root, then run again")
    downloads = root / DOWNLOADS
    if dataset == "cityscapes":
        local = local or downloads
        labels, images = recipes.CITYSCAPES_LABELS, recipes.CITYSCAPES_IMAGES
        if not all((local / archive).is_file() or (local / folder).is_dir() for archive, folder in (labels, images)):
            print(recipes.cityscapes_help(local))
            raise DownloadError(f"{local}: {labels[0]} and {images[0]} not found; get them as described above")
        build(root, name, partial(recipes.cityscapes_plan, local))
    elif url:
        archive = fetch(url, downloads / f"{name}-{archive_name(url) or 'archive'}", sha256)
        build(root, name, partial(recipes.custom_plan, archive, url))
    else:
        urls, make_plan = PUBLIC[dataset]
        if mirror:
            urls = tuple(f"{mirror.rstrip('/')}/{archive_name(address)}" for address in urls)
        archives = [fetch(address, downloads / archive_name(address)) for address in urls]
        build(root, name, partial(make_plan, archives))
    return target

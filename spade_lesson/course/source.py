"""Where the course is installed from: one GitHub repository at one release tag, for the setup cell, badges and README.

A fork changes REPOSITORY and runs `python scripts/set_source.py` (it rewrites every notebook's setup cell and Colab
badge and the README's badges); tests/test_source.py fails until it has. A course that installs from elsewhere
without editing anything sets SPADE_LESSON_SOURCE=owner/name@tag where the setup cell runs.
"""

from __future__ import annotations

import re

from spade_lesson import __version__

REPOSITORY = "spade-lesson/spade-lesson"  # owner/name on GitHub: the one value a fork changes
REF = f"v{__version__}"  # the release tag: Colab opens the notebooks and installs the package at the same version
ENV = "SPADE_LESSON_SOURCE"  # owner/name[@tag]: overrides REPOSITORY@REF where the setup cell installs the course

# GitHub's characters: an owner is letters, digits and single inner hyphens (at most 39); a repository name is letters,
# digits, '.', '_' and '-' (not '.' or '..'); a tag is a git ref name of those characters and '/' (no '..').
SOURCE = re.compile(r"(?P<owner>[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38})/(?P<name>[A-Za-z0-9._-]{1,100})"
                    r"(?:@(?P<tag>[A-Za-z0-9_][A-Za-z0-9._/-]{0,99}))?")


def check_source(source: str, where: str) -> str:
    """source (owner/name[@tag]) when it is made of GitHub's allowed characters; a one-line ValueError naming where."""
    match = SOURCE.fullmatch(source) if isinstance(source, str) else None
    bad = match is None or match["name"] in (".", "..") or ".." in (match["tag"] or "") or \
        (match["tag"] or "").endswith(("/", ".", ".lock"))
    if bad:
        raise ValueError(f"{where}: {source!r} is not owner/name[@tag] on GitHub (letters, digits, '-' in the owner; "
                         f"letters, digits, '.', '_', '-' in the name and tag): fix it, e.g. 'me/spade-lesson@v1'")
    return source


def default_source() -> str:
    """owner/name@tag of this course as committed (what the notebooks' setup cells and badges name)."""
    return f"{REPOSITORY}@{REF}"


def repository_url(source: str | None = None) -> str:
    """https://github.com/owner/name of source (default: default_source())."""
    return "https://github.com/" + (source or default_source()).split("@", 1)[0]


def pip_requirement(source: str | None = None) -> str:
    """The requirement pip installs the course with: 'spade-lesson @ git+https://github.com/owner/name@tag'."""
    return f"spade-lesson @ git+https://github.com/{source or default_source()}"


def colab_url(notebook: str, source: str | None = None) -> str:
    """The address that opens notebooks/<notebook>.ipynb of source (at its tag) in Colab."""
    repository, _, ref = (source or default_source()).partition("@")
    return f"https://colab.research.google.com/github/{repository}/blob/{ref or 'main'}/notebooks/{notebook}.ipynb"


def colab_badge(notebook: str, source: str | None = None) -> str:
    """The markdown 'Open in Colab' badge for notebooks/<notebook>.ipynb."""
    badge = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({badge})]({colab_url(notebook, source)})"

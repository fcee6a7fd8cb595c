"""Where the course is installed from: one GitHub repository at one release tag, for the setup cell, badges and README.

A fork changes REPOSITORY and runs `python scripts/set_source.py` (it rewrites every notebook's setup cell and Colab
badge and the README's badges); tests/test_source.py fails until it has. A course that installs from elsewhere
without editing anything sets SPADE_LESSON_SOURCE=owner/name@tag where the setup cell runs.
"""

from __future__ import annotations

from spade_lesson import __version__

REPOSITORY = "spade-lesson/spade-lesson"  # owner/name on GitHub: the one value a fork changes
REF = f"v{__version__}"  # the release tag: Colab opens the notebooks and installs the package at the same version
ENV = "SPADE_LESSON_SOURCE"  # owner/name[@tag]: overrides REPOSITORY@REF where the setup cell installs the course

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

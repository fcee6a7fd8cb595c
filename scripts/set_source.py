"""Write the course's source (spade_lesson/course/source.py) into the notebooks, the README and CITATION.cff.

Rewrites only: each notebook's first code cell (spade_lesson.course.notebook.SETUP_CELL), the "Open in Colab" badge on
the first line of its first markdown cell, the README's Colab links and CITATION.cff's repository-code. Outputs are
kept and nothing is executed. A fork changes spade_lesson.course.source.REPOSITORY, then runs
`python scripts/set_source.py`. The source is checked (owner/name@tag of GitHub's characters) before any file is
touched.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat

from spade_lesson.course.notebook import SETUP_CELL
from spade_lesson.course.source import check_source, colab_badge, colab_url, default_source, repository_url
from spade_lesson.runtime.atomic import write_text

ROOT = Path(__file__).resolve().parents[1]
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]("  # how a badge line begins
# A Colab link up to the nearest notebook name, across any characters an older, unchecked source wrote into it
README_LINK = re.compile(r"https://colab\.research\.google\.com/github/.*?/notebooks/(\w+)\.ipynb", flags=re.DOTALL)
CITATION_CODE = re.compile(r"^repository-code: .*$", flags=re.MULTILINE)
TOP_KEY = re.compile(r"[a-z][a-z-]*:")  # a top-level key of CITATION.cff, at the start of a line


def with_badge(markdown: str, notebook: str) -> str:
    """markdown with the notebook's Colab badge as its first line (replacing an older badge there: every line before
    the title heading, so a badge an unchecked source broke over several lines, or stacked twice, goes too)."""
    lines = markdown.split("\n")
    if lines[0].startswith(BADGE):
        heading = next((k for k, line in enumerate(lines) if line.startswith("#")), None)
        lines = lines[heading:] if heading is not None else [line for line in lines[1:] if not line.startswith(BADGE)]
        while lines and lines[0] == "":
            lines = lines[1:]
    return "\n".join([colab_badge(notebook), ""] + lines)


def rewrite(path: Path, edit: Callable[[str], str]) -> bool:
    """Replace the file at path by edit(its text) when that differs; True when the file changed."""
    raw = path.read_text()
    text = edit(raw)
    if text == raw:
        return False
    write_text(path, text)
    return True


def sync_notebook(path: Path) -> bool:
    """Put SETUP_CELL and the badge into the notebook at path; True when the file changed."""
    def edit(raw: str) -> str:
        nb = nbformat.reads(raw, as_version=nbformat.NO_CONVERT)
        title = next(cell for cell in nb.cells if cell.cell_type == "markdown")
        setup = next(cell for cell in nb.cells if cell.cell_type == "code")
        title.source = with_badge(title.source, path.stem)
        setup.source = SETUP_CELL
        return nbformat.writes(nb) + "\n"

    return rewrite(path, edit)


def sync_readme(path: Path) -> bool:
    """Point every Colab link of the README at the course's source; True when the file changed."""
    return rewrite(path, lambda raw: README_LINK.sub(lambda match: colab_url(match.group(1)), raw))


def sync_citation(path: Path) -> bool:
    """Point CITATION.cff's repository-code at the course's repository; True when the file changed. Lines right after
    it that repeat a key the file already has are what an unchecked source with a newline wrote there: they go."""
    def edit(raw: str) -> str:
        lines = raw.split("\n")
        index = next((k for k, line in enumerate(lines) if CITATION_CODE.fullmatch(line)), None)
        if index is None:
            return raw
        while index + 1 < len(lines) and (key := TOP_KEY.match(lines[index + 1])) and \
                sum(line.startswith(key.group(0)) for line in lines) > 1:
            del lines[index + 1]  # a top-level key said twice: the injected copy goes, the file's own stays
        lines[index] = f"repository-code: {repository_url()}"
        return "\n".join(lines)

    return rewrite(path, edit)


def main(argv: list[str]) -> int:
    """Rewrite the notebooks and the README under --root; print each file changed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository checkout (default: this one)")
    args = parser.parse_args(argv)
    try:
        check_source(default_source(), "spade_lesson/course/source.py REPOSITORY@REF")
    except ValueError as error:
        print(f"set_source.py: {error}; no file was changed", file=sys.stderr)
        return 1
    changed = [path for path in sorted((args.root / "notebooks").glob("*.ipynb")) if sync_notebook(path)]
    changed += [path for path, sync in ((args.root / "README.md", sync_readme),
                                        (args.root / "CITATION.cff", sync_citation)) if sync(path)]
    for path in changed:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

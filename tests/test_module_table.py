"""scripts/module_table.py: README.md's table of the package is the one the docstrings give, and names every module
under its own wing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from test_imports import WINGS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "spade_lesson"


def _module_table():
    spec = importlib.util.spec_from_file_location("module_table", ROOT / "scripts" / "module_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_sections() -> dict[str, str]:
    """README's module table cut at each wing's row: wing -> the rows from its own up to the next wing's."""
    module_table = _module_table()
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(module_table.MARKERS[0]), readme.index(module_table.MARKERS[1])
    sections: dict[str, str] = {}
    wing = None
    for line in readme[start:end].splitlines():
        if line.startswith("| **`"):
            wing = line.split("`")[1].rstrip("/")
            sections[wing] = ""
        if wing is not None:
            sections[wing] += line + "\n"
    return sections


def test_the_readme_table_is_what_the_docstrings_give():
    module_table = _module_table()
    readme = (ROOT / "README.md").read_text()
    stale = "README.md's module table is not the docstrings': run python scripts/module_table.py"
    assert module_table.with_table(readme) == readme, stale


def test_the_table_shows_every_wing_once():
    assert sorted(_module_table().ORDER) == sorted(WINGS)
    assert sorted(readme_sections()) == sorted(WINGS)


def test_every_module_is_in_the_table_under_its_wing_with_its_docstring():
    module_table, sections = _module_table(), readme_sections()
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) == 1 or path.name == "__main__.py":
            continue  # the package root holds only the version; __main__ only runs the command
        section = sections[parts[0]]
        if len(parts) == 2 and path.name != "__init__.py":
            assert f"| `{parts[0]}/{path.name}` | {module_table.summary(path)} |" in section, path
        elif len(parts) == 2:
            assert section.startswith(f"| **`{parts[0]}/`** | **{module_table.summary(path)}** |"), path
        else:  # a package inside a wing: one row naming each of its modules
            row = next(line for line in section.splitlines() if line.startswith(f"| `{parts[0]}/{parts[1]}/`"))
            assert path.name == "__init__.py" or f"`{path.stem}`" in row, path

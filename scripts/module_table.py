"""Write README.md's table of the package from the docstrings: each wing, then each of its modules, by the first
paragraph of its docstring.

The table sits between the two MARKERS lines of README.md's "What is in the package"; a package inside a wing
(data/download/, course/checks/) is one row naming its modules. tests/test_module_table.py checks that the table is
what this script writes, so a module added, renamed or re-described shows up there: python scripts/module_table.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spade_lesson.runtime.atomic import write_text  # noqa: E402

PACKAGE = ROOT / "spade_lesson"
README = ROOT / "README.md"
# the paper's layers first, then what is built on them, then the helpers every wing stands on
ORDER = ("layers", "models", "training", "checkpoints", "evaluation", "course", "data", "runtime", "cli")
MARKERS = ("<!-- the module table: written by scripts/module_table.py from the docstrings -->",
           "<!-- end of the module table -->")


def summary(path: Path) -> str:
    """The first paragraph of the docstring of the module at path, on one line."""
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    return " ".join(docstring.split("\n\n")[0].split()).replace("|", "\\|")


def rows(wing: str) -> list[str]:
    """The table rows of one wing: the wing itself (its __init__), then each module, each package inside it."""
    folder = PACKAGE / wing
    lines = [f"| **`{wing}/`** | **{summary(folder / '__init__.py')}** |"]
    for path in sorted(folder.iterdir()):
        if path.suffix == ".py" and path.name not in ("__init__.py", "__main__.py"):
            lines.append(f"| `{wing}/{path.name}` | {summary(path)} |")
        elif (path / "__init__.py").is_file():
            names = ", ".join(f"`{module.stem}`" for module in sorted(path.glob("*.py")) if module.stem != "__init__")
            lines.append(f"| `{wing}/{path.name}/` | {summary(path / '__init__.py')} Modules: {names}. |")
    return lines


def table() -> str:
    """The whole table, markers included."""
    lines = [MARKERS[0], "| module | what it is |", "| --- | --- |"]
    for wing in ORDER:
        lines += rows(wing)
    return "\n".join(lines + [MARKERS[1]])


def with_table(readme: str) -> str:
    """README text with its module table replaced by table()."""
    start, end = readme.index(MARKERS[0]), readme.index(MARKERS[1]) + len(MARKERS[1])
    return readme[:start] + table() + readme[end:]


def main() -> int:
    """Rewrite README.md's module table; say whether it changed."""
    text = README.read_text()
    new = with_table(text)
    if new != text:
        write_text(README, new)
    print(f"{README.name}: module table {'rewritten' if new != text else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

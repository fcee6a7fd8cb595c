"""The package's import graph: every module imports, and no module imports itself through others (no cycle)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "spade_lesson"
MODULES = {".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): path
           for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str) -> set[str]:
    """The package's modules that module `name` imports anywhere in its text (lazy imports too), and the packages
    Python runs on the way (importing a.b.c runs a.b's __init__ first, unless the importer is inside a.b)."""
    own = {name.rsplit(".", i)[0] for i in range(name.count(".") + 1)}  # the importer and the packages it is in
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:  # a submodule, or a package's name
            targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                       for alias in node.names]
        for target in targets:
            parts = target.split(".")
            found.add(target)
            found |= {".".join(parts[:i]) for i in range(2, len(parts))} - own  # packages run on the way
    return (found & MODULES.keys()) - {name}


def test_the_import_graph_has_no_cycle():
    graph = {name: imported(name) for name in MODULES}
    state: dict[str, str] = {}  # "open" while on the current path, "done" once every module below it is checked

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "open":
            cycle = path[path.index(name):] + [name]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        state[name] = "open"
        for other in sorted(graph[name]):
            visit(other, path + [name])
        state[name] = "done"

    for name in sorted(graph):
        visit(name, [])
    assert "spade_lesson.training.trainer" in graph["spade_lesson.training.loop"]  # the graph is read at all


@pytest.mark.parametrize("name", [name for name in MODULES if not name.endswith("__main__")])
def test_every_module_imports(name):
    importlib.import_module(name)


WINGS = ("runtime", "data", "layers", "models", "training", "checkpoints", "evaluation", "course", "cli")
"""The package's wings, bottom to top: a module may import from its own wing and the wings below it, never above."""


def wing(name: str) -> int:
    """The floor of module `name` in WINGS (the package root, which holds only the version, is below them all)."""
    parts = name.split(".")
    return WINGS.index(parts[1]) if len(parts) > 1 else -1


def test_the_top_level_holds_only_the_wings():
    top = {path.name.removesuffix(".py") for path in PACKAGE.iterdir()
           if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists())}
    assert top == set(WINGS) | {"__init__"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_from_a_wing_above_its_own(name):
    upward = sorted(other for other in imported(name) if wing(other) > wing(name))
    assert not upward, f"{name} ({WINGS[wing(name)]}) imports from a wing above it: {upward}"


def test_the_wing_check_sees_an_upward_import():
    """The check above can fail: the trainer imports the layers below it, and would be upward from them."""
    assert wing("spade_lesson.training.trainer") > wing("spade_lesson.layers.onehot")
    assert "spade_lesson.layers.onehot" in imported("spade_lesson.training.trainer")

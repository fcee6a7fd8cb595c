"""One source for the course: the setup cells, the notebooks' Colab badges and the README all name source.py's."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from spade_lesson import __version__
from spade_lesson.course import source
from spade_lesson.course.notebook import SETUP_CELL

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"]*")


def _set_source():
    spec = importlib.util.spec_from_file_location("set_source", ROOT / "scripts" / "set_source.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_source_is_the_repository_at_the_release_tag():
    assert source.default_source() == f"{source.REPOSITORY}@v{__version__}"
    assert source.pip_requirement("me/fork@v2") == "spade-lesson @ git+https://github.com/me/fork@v2"
    assert source.repository_url("me/fork@v2") == "https://github.com/me/fork"
    assert source.colab_url("07_x", "me/fork@v2") == \
        "https://colab.research.google.com/github/me/fork/blob/v2/notebooks/07_x.ipynb"


def test_the_setup_cell_installs_from_the_source():
    assert f'"{source.default_source()}"' in SETUP_CELL
    assert f'"{source.ENV}"' in SETUP_CELL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_opens_with_its_own_badge(path):
    nb = json.loads(path.read_text())
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown"
    assert "".join(first["source"]).split("\n")[0] == source.colab_badge(path.stem), \
        f"{path.name}: run python scripts/set_source.py"
    links = {link for cell in nb["cells"] for link in COLAB_LINK.findall("".join(cell["source"]))}
    assert links == {source.colab_url(path.stem)}, f"{path.name}: a Colab link not from spade_lesson/course/source.py"


def test_the_readme_links_every_notebook_to_the_source():
    readme = (ROOT / "README.md").read_text()
    assert set(COLAB_LINK.findall(readme)) == {source.colab_url(path.stem) for path in NOTEBOOKS}, \
        "README.md: run python scripts/set_source.py"
    assert source.pip_requirement() in readme


def test_set_source_has_nothing_left_to_do(tmp_path):
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copy(ROOT / "CITATION.cff", tmp_path / "CITATION.cff")
    script = _set_source()
    assert not [p for p in sorted((tmp_path / "notebooks").glob("*.ipynb")) if script.sync_notebook(p)]
    assert not script.sync_readme(tmp_path / "README.md")
    assert not script.sync_citation(tmp_path / "CITATION.cff")


def test_set_source_rewrites_a_fork_and_keeps_the_rest(tmp_path, monkeypatch):
    script = _set_source()
    notebook = tmp_path / "notebooks" / "03_spade.ipynb"
    notebook.parent.mkdir()
    shutil.copy(ROOT / "notebooks" / "03_spade.ipynb", notebook)
    before = json.loads(notebook.read_text())
    monkeypatch.setattr(script, "colab_badge", lambda name: source.colab_badge(name, "me/fork@v9"))
    assert script.sync_notebook(notebook) and not script.sync_notebook(notebook)
    after = json.loads(notebook.read_text())
    title = "".join(after["cells"][0]["source"])
    assert title.startswith(source.colab_badge("03_spade", "me/fork@v9") + "\n\n# 03")
    assert title.count("Open In Colab") == 1
    assert after["cells"][1:] == before["cells"][1:], "only the badge line may change"


def test_set_source_points_the_citation_at_a_fork(tmp_path, monkeypatch):
    script = _set_source()
    citation = tmp_path / "CITATION.cff"
    shutil.copy(ROOT / "CITATION.cff", citation)
    monkeypatch.setattr(script, "repository_url", lambda: "https://github.com/me/fork")
    assert script.sync_citation(citation)
    assert "repository-code: https://github.com/me/fork\n" in citation.read_text()
    assert citation.read_text().replace("me/fork", source.REPOSITORY) == (ROOT / "CITATION.cff").read_text()


HOSTILE_SOURCES = ['evil/x"); import os; os.system("touch pwned"); x=("', "me/fork\nlicense: GPL-3.0", "me\\fork",
                   "me/my fork", "me/fork@v1..2", "-me/fork", "me/..", "me/fork)", "me/fork@v1@v2", ""]


@pytest.mark.parametrize("value", HOSTILE_SOURCES)
def test_check_source_refuses_what_github_would_not_name(value):
    with pytest.raises(ValueError, match="REPOSITORY: .* is not owner/name"):
        source.check_source(value, "REPOSITORY")


@pytest.mark.parametrize("value", ["spade-lesson/spade-lesson@v0.1.0", "me/fork", "Me-2/f.o_r-k@release/1.0"])
def test_check_source_passes_github_names(value):
    assert source.check_source(value, "REPOSITORY") == value


def _checkout(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for name in ("README.md", "CITATION.cff"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("value", HOSTILE_SOURCES[:4])
def test_set_source_refuses_a_bad_repository_before_touching_a_file(tmp_path, monkeypatch, capsys, value):
    root = _checkout(tmp_path)
    before = _snapshot(root)
    monkeypatch.setattr(source, "REPOSITORY", value)
    assert _set_source().main(["--root", str(root)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "REPOSITORY" in error and "no file was changed" in error
    assert _snapshot(root) == before


def test_set_source_undoes_what_an_unchecked_source_wrote(tmp_path, monkeypatch):
    """Values the old, unchecked script wrote (code in the badge, a space, a newline) are all replaced by restoring."""
    root = _checkout(tmp_path)
    before = _snapshot(root)
    script = _set_source()
    for bad in ('evil/x"); import os; os.system("touch pwned"); x=("', "me/my fork", "me/fork\nlicense: GPL-3.0"):
        monkeypatch.setattr(script, "colab_badge", lambda name, bad=bad: source.colab_badge(name, bad + "@v1"))
        monkeypatch.setattr(script, "colab_url", lambda name, bad=bad: source.colab_url(name, bad + "@v1"))
        for path in sorted((root / "notebooks").glob("*.ipynb")):
            script.sync_notebook(path)
        script.sync_readme(root / "README.md")
        monkeypatch.setattr(script, "repository_url", lambda bad=bad: source.repository_url(bad))
        script.sync_citation(root / "CITATION.cff")
    assert "license: GPL-3.0" in (root / "CITATION.cff").read_text()
    assert _snapshot(root) != before
    monkeypatch.undo()
    assert script.main(["--root", str(root)]) == 0
    after = _snapshot(root)
    assert {name for name in after if after[name] != before[name]} == set(), "restoring left a trace"

"""environment.yml and pyproject.toml name the same dependencies, and neither pins torch or numpy exactly."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = _pyproject()
    wanted = {r.strip() for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {r for r in pip_section if not r.startswith("-e")}
    assert listed == wanted, f"only in environment.yml: {listed - wanted}; only in pyproject.toml: {wanted - listed}"
    assert "-e .[dev]" in pip_section, "environment.yml must install this package with its dev extra"
    conda_names = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    assert {"python", "pip"} <= conda_names


def test_no_exact_pins_on_torch_or_numpy():
    project = _pyproject()
    for requirement in project["dependencies"]:
        if _name(requirement) in {"torch", "torchvision", "numpy"}:
            assert "==" not in requirement and "<" not in requirement, f"{requirement}: Colab brings its own"


def test_ipywidgets_allows_colab_7x():
    spec = next(r for r in _pyproject()["dependencies"] if _name(r) == "ipywidgets")
    assert spec == "ipywidgets>=7.7"


def test_the_lab_extra_is_light_and_draws_widgets():
    lab = {_name(r): r for r in _pyproject()["optional-dependencies"]["lab"]}
    assert {"jupyterlab", "ipykernel"} <= lab.keys()
    assert not lab.keys() & {"pytest", "nbval", "playwright", "nbgrader"}, "test tools belong in [dev]"
    assert lab["ipywidgets"] == "ipywidgets>=8", "JupyterLab 4 draws no ipywidgets 7 widgets"
    assert 'pip install -e ".[lab]"' in (ROOT / "README.md").read_text()

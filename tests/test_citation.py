"""LICENSE, CITATION.cff, pyproject's license and the README's BibTeX say the same things as the package."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from spade_lesson.course import source

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PAPER = "Semantic Image Synthesis with Spatially-Adaptive Normalization"


def _citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text())


def test_the_license_is_mit_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert _citation()["license"] == "MIT"


def test_citation_cff_has_what_version_1_2_0_requires():
    citation = _citation()
    assert citation["cff-version"] == "1.2.0"
    assert {"cff-version", "message", "title", "authors"} <= citation.keys()
    assert all(author.get("name") or author.get("family-names") for author in citation["authors"])
    for reference in citation["references"]:
        assert {"type", "title", "authors"} <= reference.keys()


def test_citation_names_this_course_and_the_paper():
    citation = _citation()
    assert citation["repository-code"] == source.repository_url()
    paper = next(reference for reference in citation["references"] if reference["title"] == PAPER)
    assert [author["family-names"] for author in paper["authors"]] == ["Park", "Liu", "Wang", "Zhu"]
    assert paper["year"] == 2019 and {"type": "other", "value": "arXiv:1903.07291"} in paper["identifiers"]


def test_readme_has_the_papers_bibtex_and_the_official_weights_license():
    readme = (ROOT / "README.md").read_text()
    bibtex = re.search(r"```bibtex\n(.*?)```", readme, flags=re.DOTALL).group(1)
    assert f"title         = {{{PAPER}}}" in bibtex and "1903.07291" in bibtex and "year          = {2019}" in bibtex
    assert "Park, Taesung and Liu, Ming-Yu and Wang, Ting-Chun and Zhu, Jun-Yan" in bibtex
    assert "CC BY-NC-SA 4.0" in readme

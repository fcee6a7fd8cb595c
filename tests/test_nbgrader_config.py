"""nbgrader_config.py: the course id, the course folder beside it (ignored by git), fast mode and the cell timeout."""

from __future__ import annotations

import os
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

from spade_lesson.course.assignments import instructors_note

ROOT = Path(__file__).resolve().parents[1]


def test_nbgrader_config_names_the_course_and_grades_in_fast_mode(monkeypatch):
    monkeypatch.delenv("SPADE_LESSON_FAST", raising=False)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert config.CourseDirectory.course_id == "spade-lesson"
    assert config.CourseDirectory.root == str(ROOT / "course")
    assert config.Execute.timeout >= 60
    assert os.environ["SPADE_LESSON_FAST"] == "1"


def test_nbgrader_config_leaves_an_explicit_mode_alone(monkeypatch):
    monkeypatch.setenv("SPADE_LESSON_FAST", "0")
    PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert os.environ["SPADE_LESSON_FAST"] == "0"


def test_the_course_folder_is_never_committed():
    assert "/course/" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_note_says_to_activate_the_environment_and_where_the_solutions_are():
    note = instructors_note([])
    assert "with the environment activated" in note and "alembic" in note
    assert "The reference solutions ship with the package" in note and "### BEGIN HIDDEN TESTS" in note

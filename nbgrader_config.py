"""nbgrader's settings for grading this course; nbgrader reads this file when run from the repository root.

Activate the environment that has nbgrader first (nbgrader runs `alembic` from PATH). INSTRUCTORS.md, written by
`spade-lesson assignments`, walks through the workflow.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 (nbgrader's config loader provides get_config)

c.CourseDirectory.course_id = "spade-lesson"
# source/, release/, submitted/, autograded/, feedback/ and gradebook.db live in course/ (ignored by git)
c.CourseDirectory.root = str(Path(__file__).resolve().parent / "course")
# Submissions run CPU-sized (notebook 05 trains for seconds, not minutes); SPADE_LESSON_FAST=0 grades in full mode.
os.environ.setdefault("SPADE_LESSON_FAST", "1")
# Seconds a cell may run: the longest cell of a fast run takes well under a minute on a 2-core CPU.
c.Execute.timeout = 600

"""`spade-lesson assignments OUT/`: the student notebooks and the instructors' note
(spade_lesson.course.assignments)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from spade_lesson.cli.parser import OneLineParser
from spade_lesson.course.assignments import INSTALL_HINT, NOTE_NAME, notebooks_folder, write_assignments


def run(argv: list[str]) -> int:
    """Write the student notebooks and the instructors' note; 0 on success, 1 (one line) without nbgrader."""
    parser = OneLineParser(prog="spade-lesson assignments",
                           description="Write the student versions of the course notebooks (solutions and outputs "
                                       f"cleared by nbgrader) and {NOTE_NAME} to OUT.")
    parser.add_argument("out", help="output folder (created if needed; notebooks of the same name are replaced)")
    parser.add_argument("--notebooks", type=Path, default=None,
                        help="the solution notebooks (default: notebooks/ of the repository checkout)")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("nbgrader") is None:
        print(f"spade-lesson assignments: nbgrader is not installed: {INSTALL_HINT}", file=sys.stderr)
        return 1
    folder = args.notebooks if args.notebooks is not None else notebooks_folder()
    for path in write_assignments(Path(args.out), folder):
        print(f"wrote {path}")
    return 0

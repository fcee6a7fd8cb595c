"""Student versions of the course notebooks, made by nbgrader's own preprocessors, and the instructors' note.

The notebooks in the repository are the solution versions: each exercise is a cell marked for nbgrader whose solution
sits between `### BEGIN SOLUTION` and `### END SOLUTION` inside a function body, followed by a check cell (an nbgrader
autograder test) calling `spade_lesson.course.checks`. `spade-lesson assignments OUT/` writes OUT/<notebook>.ipynb for
every notebook with nbgrader's LockCells, ClearSolutions (each solution becomes `raise NotImplementedError()`),
ClearOutput and CheckCellMetadata, without the traces of the course's own runs (nbval markers, execution timestamps,
widget state), and OUT/INSTRUCTORS.md, the text of the repository's INSTRUCTORS.md.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from spade_lesson.course.notebook import REPO_URL
from spade_lesson.course.source import pip_requirement
from spade_lesson.runtime.atomic import write_text

INSTALL_HINT = 'pip install -e ".[instructor]" in the repository checkout (or pip install nbgrader)'
NOTE_NAME = "INSTRUCTORS.md"
NBVAL_MARKER = re.compile(r"^[ \t]*# NBVAL_[A-Z_]+[ \t]*(\n|$)", flags=re.MULTILINE)  # a line holding only a marker


@dataclass(frozen=True)
class Timing:
    """What an instructor plans a notebook around: students' working time, a full run's time, the GPU it wants."""

    working: str  # as in the README's notebook table
    full_run: str  # the whole notebook in full mode (SPADE_LESSON_FAST=0), measured on a shared 2-core CPU on TIMED
    gpu: str  # as in the README's notebook table


TIMED = "2026-12-07"  # when the full runs of TIMINGS were measured (`date; jupyter nbconvert --execute ...; date`)
TIMINGS = {  # measured on a quiet 2-core CPU (notebook 05 trains for 5 of its minutes whatever the machine)
    "00_start_here": Timing("10 min", "< 1 min", "no"),
    "01_batchnorm_from_scratch": Timing("45 min", "< 1 min", "no"),
    "02_the_washout": Timing("45 min", "1 min", "no"),
    "03_spade": Timing("60 min", "< 1 min", "no"),
    "04_the_networks": Timing("45 min", "< 1 min", "no"),
    "05_training": Timing("60 min", "6 min", "recommended (T4 or better)"),
    "06_evaluation": Timing("45 min", "3 min", "optional"),
    "07_interactive_gaugan": Timing("20 min", "< 1 min", "no"),
    "08_ablations": Timing("45 min", "< 1 min", "no"),
}


@dataclass(frozen=True)
class Exercise:
    """One exercise: the functions its solution cell defines, and the points of the check cell that grades them."""

    functions: tuple[str, ...]
    points: float


def is_solution(cell: NotebookNode) -> bool:
    """True for a cell that nbgrader treats as a solution cell."""
    return bool(cell.metadata.get("nbgrader", {}).get("solution", False))


def is_check(cell: NotebookNode) -> bool:
    """True for an autograded code cell (an nbgrader test cell)."""
    grader = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(grader.get("grade", False)) and not grader.get("solution", False)


def exercises(nb: NotebookNode, name: str) -> list[Exercise]:
    """The exercises of a solution notebook, in order; each solution cell must be followed by its own check cell."""
    found = []
    for index, cell in enumerate(nb.cells):
        if not is_solution(cell):
            continue
        functions = tuple(re.findall(r"^def (\w+)\(", cell.source, flags=re.MULTILINE))
        later = nb.cells[index + 1:]
        check = next((c for c in later if is_check(c) or is_solution(c)), None)
        if not functions or check is None or not is_check(check):
            raise ValueError(f"{name}: the solution cell {index} must define a function and be followed by a check "
                             f"cell (nbgrader grade cell) calling spade_lesson.course.checks before the next exercise")
        found.append(Exercise(functions, float(check.metadata["nbgrader"].get("points", 0))))
    return found


def notebooks_folder() -> Path:
    """The course's notebooks/ folder in the repository checkout this package runs from."""
    folder = Path(__file__).resolve().parents[2] / "notebooks"
    if not folder.is_dir():
        raise FileNotFoundError(f"no notebooks/ folder at {folder}: the notebooks ship with the repository, not the "
                                f"package; git clone {REPO_URL} and run this inside the clone, or pass --notebooks DIR")
    return folder


def course_notebooks(folder: Path) -> list[Path]:
    """The course notebooks (NN_name.ipynb) in folder, in order."""
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"{folder} holds no course notebooks (NN_name.ipynb): pass the repository's "
                                f"notebooks/ folder with --notebooks DIR")
    return paths


def strip_run_traces(nb: NotebookNode) -> NotebookNode:
    """nb without what only the course's own runs need: nbval's marker lines and tags, execution timestamps, widget
    state (in place)."""
    nb.metadata.pop("widgets", None)  # the state of the widgets (progress bars) of the last run
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps nbclient records per cell
        tags = [tag for tag in cell.metadata.get("tags", []) if not tag.startswith("nbval")]
        if "tags" in cell.metadata:
            cell.metadata["tags"] = tags
            if not tags:
                del cell.metadata["tags"]
        if cell.cell_type == "code":
            cell.source = re.sub(NBVAL_MARKER, "", cell.source)
    return nb


def student_version(nb: NotebookNode) -> NotebookNode:
    """The notebook as students get it: checks locked, solutions and outputs cleared by nbgrader's own steps, and no
    trace of the course's own runs (strip_run_traces)."""
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, ClearSolutions, LockCells

    nb = copy.deepcopy(nb)  # the preprocessors work in place
    resources: dict = {}
    for step in (LockCells(), ClearSolutions(), ClearOutput(), CheckCellMetadata()):
        nb, resources = step.preprocess(nb, resources)
    return strip_run_traces(nb)


def _table(course: list[tuple[str, list[Exercise]]]) -> str:
    """The note's table: per notebook its exercises, points, working time, full run time and GPU."""
    rows = ["| notebook | exercises (functions to write) | points | working time | full run, 2-core CPU | GPU |",
            "| --- | --- | --- | --- | --- | --- |"]
    for name, found in course:
        timing = TIMINGS.get(name, Timing("?", "?", "?"))
        written = ", ".join(" + ".join(f"`{f}`" for f in exercise.functions) for exercise in found) or "none"
        points = f"{sum(exercise.points for exercise in found):g}"
        rows.append(f"| {name} | {written} | {points} | {timing.working} | {timing.full_run} | {timing.gpu} |")
    return "\n".join(rows)


def instructors_note(course: list[tuple[str, list[Exercise]]]) -> str:
    """INSTRUCTORS.md: how the exercises work, the two ways to hand them out, the nbgrader workflow, the timings."""
    return f"""# For instructors: the course as graded assignments

The notebooks in `notebooks/` are the **solution** versions. Every exercise is a function whose body holds the
solution between `### BEGIN SOLUTION` and `### END SOLUTION`, in a cell marked as an nbgrader solution cell, and is
followed by a locked check cell (an nbgrader autograder test) that calls `spade_lesson.course.checks`. A check runs the
function on several cases against a trusted reference (a torch function or the package's own implementation) and
prints `check_<name>: all N cases pass`, or stops with one line naming the case that failed, the value expected, the
value got and a hint. The hints come in tiers, counted per check in a session: a recognised mistake is named on the
first failed call, its fix comes in words from the second, the whole formula from the third (every notebook with
exercises says so before its first). An exercise not done yet says `not implemented yet: fill in <name> above`.

## The exercises

{_table(course)}

Working time and GPU are the README's; the full run is the whole notebook in full mode, measured on {TIMED} on a
quiet 2-core CPU (notebook 05 trains for 5 of its minutes; with one other busy process on the machine each
notebook took at most twice as long). Checks do not depend on fast mode:
`SPADE_LESSON_FAST=1` shrinks every notebook to a CPU-sized run, which is how the tests and the autograder below run
them. Each check cell is worth 1 point; change `points` in its nbgrader metadata (JupyterLab's property inspector, or
the "Create Assignment" panel of nbgrader's JupyterLab extension) to weigh them.

## Student versions without a grading server

```bash
pip install -e ".[instructor]"      # in the repository checkout: the package, its notebooks, nbgrader
spade-lesson assignments student/
```

writes `student/NN_name.ipynb` for every notebook, made with nbgrader's own preprocessors (LockCells,
ClearSolutions, ClearOutput, CheckCellMetadata): each solution becomes `raise NotImplementedError()` inside the same
function, outputs are cleared, check cells are locked. It also writes this note as `student/{NOTE_NAME}`. Hand out
the folder; students need the package itself (`pip install "{pip_requirement()}"`;
in Colab the first cell of every notebook installs it) and get their feedback from the check cells.

## With nbgrader: generate, collect, autograde

`nbgrader_config.py` at the repository root sets the course id (`spade-lesson`), keeps the course folder in
`course/` (ignored by git, so submissions never end up in a commit), runs submissions in fast mode
(`SPADE_LESSON_FAST=1`: CPU-sized, notebook 05 trains for seconds instead of minutes; set `SPADE_LESSON_FAST=0` in
the environment to grade in full mode) and gives each cell up to 600 seconds. Run every nbgrader command from the
repository root **with the environment activated**: nbgrader runs `alembic`, its database tool, from PATH, so
`.venv/bin/nbgrader` run without activating the environment stops with `FileNotFoundError: ... 'alembic'`.

```bash
source .venv/bin/activate           # or: conda activate spade-lesson
pip install -e ".[instructor]"
for notebook in notebooks/0[1-7]_*.ipynb; do
    name=$(basename "$notebook" .ipynb)
    mkdir -p "course/source/$name" && cp "$notebook" "course/source/$name/"
done
nbgrader generate_assignment 01_batchnorm_from_scratch      # -> course/release/01_batchnorm_from_scratch/
```

`course/release/<assignment>/` is the student version (the same as `spade-lesson assignments` writes, plus the
checksums nbgrader uses to notice edited test cells). Hand it out with `nbgrader release_assignment` (JupyterHub
exchange) or any other way. Submissions go to `course/submitted/<student id>/<assignment>/<notebook>.ipynb`
(`nbgrader collect` puts them there; by hand works too). Then:

```bash
nbgrader autograde 01_batchnorm_from_scratch
nbgrader generate_feedback 01_batchnorm_from_scratch        # -> course/feedback/<student id>/ (HTML)
nbgrader export                                             # -> grades.csv
```

`autograde` runs every submitted notebook from top to bottom and gives each check cell its points when it runs
without an error; notebook 01 took about 26 s per submission on a shared 2-core CPU. Students can run
`nbgrader validate NN_name.ipynb` before they submit.

## The reference solutions ship with the package

Most checks compare an exercise with a reference that is part of the installed package (`spade_lesson.course.checks`
imports them from `spade_lesson.training.losses`, `spade_lesson.layers.spade`, `spade_lesson.evaluation.metrics` and
other modules; the rest compare with torch's own functions), and every exercise is something the package implements:
notebook 01 even prints the package's BatchNorm with `inspect.getsource`. A student can read the package, or call it
from a solution, and pass every check. For practice, where the checks are feedback, that does not matter. Where
grades count, add hidden tests: nbgrader removes the lines between `### BEGIN HIDDEN TESTS` and `### END HIDDEN
TESTS` of a check cell in `course/source/` from the student version and puts them back when it autogrades. For
example, at the end of the check cell of `batch_norm_train`:

```python
### BEGIN HIDDEN TESTS
import inspect
assert "spade_lesson" not in inspect.getsource(batch_norm_train), "batch_norm_train: write it without spade_lesson"
### END HIDDEN TESTS
```

With it, a solved submission of notebook 01 scored 3/3, an unsolved one 0/3 and one whose solution imports
`spade_lesson` 2/3. A hidden test stops a solution that calls the package, not one retyped from its source; only
reading the submissions (nbgrader's formgrader) catches that.

A few things to know:

* Later cells of a notebook use the functions of earlier exercises (notebook 05's training step uses `hinge_d`, for
  example), so an unsolved exercise can make later cells fail as well; autograde still grades every check cell.
* Students must keep the function names: the check cells call them by name.
* Notebook 05 trains a GAN: on a GPU it uses the course's 128 x 128 settings, on a CPU a 5-minute run at 64 x 64.
  Notebook 07 paints with the generator notebook 05 trained, or with the small one shipped in the package.
"""


def refuse_overwriting_solutions(out: Path, folder: Path) -> None:
    """A one-line ValueError when writing to out would replace a solution notebook (out is folder, or holds one)."""
    if out.exists() and out.resolve() == folder.resolve():
        raise ValueError(f"{out} is the solution notebooks' folder: writing there would replace the solutions; "
                         f"choose another output folder, e.g. spade-lesson assignments student/")
    for path in course_notebooks(folder):
        target = out / path.name
        if target.is_file() and "### BEGIN SOLUTION" in target.read_text(errors="replace"):
            raise ValueError(f"{target} holds solutions (a solution notebook, not a student version): move it, or "
                             f"choose another output folder")


def write_assignments(out: Path, folder: Path) -> list[Path]:
    """Write the student version of every course notebook in folder, and the instructors' note, to out."""
    notebooks = {path: nbformat.read(path, as_version=4) for path in course_notebooks(folder)}
    course = [(path.stem, exercises(nb, path.name)) for path, nb in notebooks.items()]  # refuse before writing
    refuse_overwriting_solutions(out, folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, nb in notebooks.items():
        target = out / path.name
        write_text(target, nbformat.writes(student_version(nb)) + "\n")
        written.append(target)
    note = out / NOTE_NAME
    write_text(note, instructors_note(course))
    return written + [note]

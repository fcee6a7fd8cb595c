"""spade_lesson.course.assignments: student notebooks made by nbgrader hold no solution, run, and fail their checks
cleanly."""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import os
import stat
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from spade_lesson.cli import main
from spade_lesson.course import assignments
from spade_lesson.course.assignments import (
    INSTALL_HINT,
    NOTE_NAME,
    TIMINGS,
    course_notebooks,
    exercises,
    instructors_note,
    is_check,
    is_solution,
    strip_run_traces,
)
from spade_lesson.course.checks import CheckFailed

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = course_notebooks(ROOT / "notebooks")
WITH_EXERCISES = [path for path in NOTEBOOKS if 1 <= int(path.name[:2]) <= 7]
EXECUTED = ["01_batchnorm_from_scratch.ipynb", "02_the_washout.ipynb"]  # cheap to run up to their first exercise


def read(path: Path) -> nbformat.NotebookNode:
    """A notebook from disk."""
    return nbformat.read(path, as_version=4)


def region(source: str) -> list[str]:
    """The stripped, non-empty lines between the solution markers of a cell."""
    lines, inside = [], False
    for line in source.splitlines():
        if "BEGIN SOLUTION" in line or "END SOLUTION" in line:
            inside = "BEGIN SOLUTION" in line
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def imports(nb: nbformat.NotebookNode) -> str:
    """Every top-level import statement of the notebook's code cells (IPython magics left out)."""
    statements = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            statements += [ast.unparse(node) for node in ast.parse(code).body
                           if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(statements)


def run_cells(nb: nbformat.NotebookNode, *sources: str) -> tuple[dict, str]:
    """Execute cells after the notebook's imports in one fresh namespace; returns the namespace and what they print."""
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for source in (imports(nb),) + sources:
            exec(compile(source, "<cell>", "exec"), namespace)
    return namespace, printed.getvalue()


def pairs(nb: nbformat.NotebookNode) -> list[tuple[int, int]]:
    """(solution cell index, its check cell index) for every exercise of a notebook."""
    found = []
    for index, cell in enumerate(nb.cells):
        if is_solution(cell):
            found.append((index, next(j for j in range(index + 1, len(nb.cells)) if is_check(nb.cells[j]))))
    return found


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The student versions, written by `spade-lesson assignments OUT/`."""
    out = tmp_path_factory.mktemp("student")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["assignments", str(out)]) == 0
    return out


def test_notebooks_01_to_07_have_at_least_two_exercises_each_graded_by_a_check():
    assert [path.name[:2] for path in WITH_EXERCISES] == [f"0{n}" for n in range(1, 8)]
    for path in WITH_EXERCISES:
        nb = read(path)
        found = exercises(nb, path.name)
        assert len(found) >= 2, f"{path.name}: {len(found)} exercises"
        ids = [cell.metadata["nbgrader"]["grade_id"] for cell in nb.cells if "nbgrader" in cell.metadata]
        assert len(ids) == len(set(ids)), f"{path.name}: nbgrader grade_ids must be unique"
        for _, check in pairs(nb):
            source = nb.cells[check].source
            assert source.startswith("# NBVAL_CHECK_OUTPUT\nfrom spade_lesson.course.checks import check_"), path.name
            assert nb.cells[check].metadata["nbgrader"]["locked"] and nb.cells[check].metadata["nbgrader"]["points"] > 0


@pytest.mark.slow
def test_the_solutions_pass_their_checks():
    for path in WITH_EXERCISES:
        nb = read(path)
        for solution, check in pairs(nb):
            _, printed = run_cells(nb, nb.cells[solution].source, nb.cells[check].source)
            assert printed.startswith("check_") and printed.rstrip().endswith("cases pass"), (path.name, printed)


def test_the_command_writes_every_notebook_and_the_note(student):
    assert sorted(p.name for p in student.iterdir()) == sorted([p.name for p in NOTEBOOKS] + [NOTE_NAME])
    umask = os.umask(0)
    os.umask(umask)
    for path in student.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, f"{path.name}: written with private permissions"


def test_student_versions_hold_no_solution_code(student):
    for path in NOTEBOOKS:
        source, cleared = read(path), read(student / path.name)
        assert len(cleared.cells) == len(source.cells)
        text = nbformat.writes(cleared)
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, path.name
        elsewhere = {line.strip() for cell in source.cells if not is_solution(cell)
                     for line in cell.source.splitlines()}
        student_lines = {line.strip() for cell in cleared.cells for line in cell.source.splitlines()}
        for index, cell in enumerate(source.cells):
            assert not cleared.cells[index].get("outputs") and cleared.cells[index].get("execution_count") is None
            if not is_solution(cell):
                unmarked = cell.source.replace("# NBVAL_CHECK_OUTPUT\n", "")
                assert cleared.cells[index].source == unmarked, f"{path.name}: cell {index} changed"
                continue
            solution = region(cell.source)
            stub = cleared.cells[index].source
            assert "raise NotImplementedError()" in stub and solution, f"{path.name}: cell {index}"
            assert not set(solution) & {line.strip() for line in stub.splitlines()}, f"{path.name}: cell {index}"
            distinctive = set(solution) - elsewhere
            assert not distinctive & student_lines, f"{path.name}: {distinctive & student_lines}"
        for index, _ in pairs(source):
            assert cleared.cells[index].source.splitlines()[0] == source.cells[index].source.splitlines()[0]


def test_student_versions_hold_no_nbval_markers_execution_metadata_or_widget_state(student):
    marked = 0
    for path in NOTEBOOKS:
        marked += "NBVAL" in path.read_text()
        text = (student / path.name).read_text()
        assert "NBVAL" not in text and "nbval" not in text, path.name
        cleared = read(student / path.name)
        assert "widgets" not in cleared.metadata, path.name
        assert not [cell for cell in cleared.cells if "execution" in cell.metadata], path.name
    assert marked >= 7, "the solution notebooks mark the cells nbval compares"


def test_strip_run_traces_removes_markers_tags_timestamps_and_widget_state():
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"state": {}}, "language_info": {"name": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)  # NBVAL_CHECK_OUTPUT stays in a comment",
                                          metadata={"execution": {"iopub.status.idle": "2026-11-25T04:33:20Z"},
                                                    "tags": ["nbval-ignore-output", "keep"]}),
                nbformat.v4.new_code_cell("  # NBVAL_SKIP\n", metadata={"tags": ["nbval-skip"]}),
                nbformat.v4.new_markdown_cell("# NBVAL_CHECK_OUTPUT in prose stays")]
    strip_run_traces(nb)
    assert nb.metadata == {"language_info": {"name": "python"}}
    assert nb.cells[0].source == "print(1)  # NBVAL_CHECK_OUTPUT stays in a comment"
    assert nb.cells[0].metadata == {"tags": ["keep"]}
    assert nb.cells[1].source == "" and nb.cells[1].metadata == {}
    assert nb.cells[2].source == "# NBVAL_CHECK_OUTPUT in prose stays"


def test_check_cells_are_locked_in_the_student_versions(student):
    for path in WITH_EXERCISES:
        cleared = read(student / path.name)
        for _, check in pairs(cleared):
            assert cleared.cells[check].metadata["editable"] is False
            assert cleared.cells[check].metadata["deletable"] is False


@pytest.mark.slow
def test_every_unsolved_exercise_fails_its_check_with_not_implemented_yet(student):
    for path in WITH_EXERCISES:
        cleared = read(student / path.name)
        for solution, check in pairs(cleared):
            namespace, _ = run_cells(cleared, cleared.cells[solution].source)  # a cleared cell still defines it
            function = exercises(read(path), path.name)[pairs(cleared).index((solution, check))].functions[0]
            assert callable(namespace[function])
            with pytest.raises(CheckFailed) as failure:
                run_cells(cleared, cleared.cells[solution].source, cleared.cells[check].source)
            check_name = cleared.cells[check].metadata["nbgrader"]["grade_id"]
            assert str(failure.value) == f"{check_name}: not implemented yet: fill in {function} above"


@pytest.mark.slow
@pytest.mark.parametrize("name", EXECUTED)
def test_a_student_notebook_runs_to_its_first_exercise_whose_check_says_not_implemented(student, name):
    nb = read(student / name)
    first = next(index for index, cell in enumerate(nb.cells) if is_check(cell))
    nb.cells = nb.cells[:first + 1]
    NotebookClient(nb, kernel_name="python3", timeout=300, allow_errors=True,
                   resources={"metadata": {"path": str(student)}}).execute()
    for cell in nb.cells[:-1]:
        assert not [o for o in cell.get("outputs", []) if o["output_type"] == "error"], cell.source[:80]
    (error,) = nb.cells[-1].outputs
    function = exercises(read(ROOT / "notebooks" / name), name)[0].functions[0]
    assert error["output_type"] == "error" and error["ename"] == "CheckFailed"
    assert error["traceback"] == [f"CheckFailed: {error['evalue']}"]  # one line, no traceback
    assert error["evalue"].endswith(f"not implemented yet: fill in {function} above")


def test_without_nbgrader_the_command_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "nbgrader" else real(name, *args))
    assert main(["assignments", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == f"spade-lesson assignments: nbgrader is not installed: {INSTALL_HINT}\n"
    assert not (tmp_path / "out").exists()


def test_without_the_notebooks_the_command_says_where_to_get_them(monkeypatch, tmp_path, capsys):
    installed = tmp_path / "site-packages" / "spade_lesson" / "course" / "assignments.py"
    monkeypatch.setattr(assignments, "__file__", str(installed))
    assert main(["assignments", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "the notebooks ship with the repository" in error and "git clone" in error
    (tmp_path / "empty").mkdir()
    assert main(["assignments", str(tmp_path / "out"), "--notebooks", str(tmp_path / "empty")]) == 1
    assert "holds no course notebooks" in capsys.readouterr().err


def test_an_exercise_without_a_check_cell_is_refused(tmp_path, capsys):
    nb = read(WITH_EXERCISES[0])
    solution, check = pairs(nb)[0]
    del nb.cells[check]
    nbformat.write(nb, tmp_path / WITH_EXERCISES[0].name)
    assert main(["assignments", str(tmp_path / "out"), "--notebooks", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert f"{WITH_EXERCISES[0].name}: the solution cell {solution} must define a function and be followed by a check" \
        in error and error.count("\n") == 1
    assert not (tmp_path / "out").exists(), "nothing is written when a notebook is refused"


def test_instructors_md_is_the_note_the_command_writes(student):
    course = [(path.stem, exercises(read(path), path.name)) for path in NOTEBOOKS]
    note = instructors_note(course)
    assert (student / NOTE_NAME).read_text() == note
    assert (ROOT / NOTE_NAME).read_text() == note, (
        f"{NOTE_NAME} is out of date: spade-lesson assignments /tmp/student && cp /tmp/student/{NOTE_NAME} .")


def test_timings_cover_every_notebook_and_agree_with_the_readme():
    assert set(TIMINGS) == {path.stem for path in NOTEBOOKS}
    readme = (ROOT / "README.md").read_text().splitlines()
    for name, timing in TIMINGS.items():
        row = next(line for line in readme if line.startswith(f"| [{name}](notebooks/{name}.ipynb)"))
        cells = [cell.strip() for cell in row.split("|")]
        assert (cells[3], cells[4]) == (timing.working, timing.gpu), f"README and TIMINGS disagree on {name}"


@pytest.mark.slow
def test_the_ema_cell_of_an_unsolved_05_stops_instead_of_passing_vacuously(student):
    nb = read(student / "05_training.ipynb")
    ema = next(index for index, cell in enumerate(nb.cells) if "trainer.steps_done != 1" in cell.source)
    nb.cells = nb.cells[:ema + 1]
    NotebookClient(nb, kernel_name="python3", timeout=300, allow_errors=True,
                   resources={"metadata": {"path": str(student)}}).execute()
    (error,) = nb.cells[-1].outputs  # no "EMA weight as expected: True" from a step that never ran
    assert error["output_type"] == "error" and error["ename"] == "RuntimeError"
    assert "run the cell above (it needs hinge_d and hinge_g) first" in error["evalue"]


def test_writing_into_the_solution_folder_is_refused_and_nothing_is_lost(tmp_path, capsys):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for path in WITH_EXERCISES[:2]:
        (folder / path.name).write_bytes(path.read_bytes())
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert main(["assignments", str(folder), "--notebooks", str(folder)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "solution notebooks' folder" in error and "student/" in error
    copy = tmp_path / "copy"  # another folder that holds a solution notebook of the same name
    copy.mkdir()
    (copy / WITH_EXERCISES[0].name).write_bytes(WITH_EXERCISES[0].read_bytes())
    assert main(["assignments", str(copy), "--notebooks", str(folder)]) == 1
    assert "holds solutions" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    assert (copy / WITH_EXERCISES[0].name).read_bytes() == WITH_EXERCISES[0].read_bytes()


def test_writing_the_student_versions_again_replaces_them(student):
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["assignments", str(student)]) == 0

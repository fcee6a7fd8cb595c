"""spade_lesson.runtime.progress: plain lines without a terminal (no carriage returns), tqdm in a terminal or a
notebook."""

from __future__ import annotations

import io
import sys
import types

import pytest
from tqdm import tqdm

from spade_lesson.runtime import progress
from spade_lesson.runtime.progress import PLAIN_LINES, PlainProgress, end_early, progress_bar


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_plain_progress_prints_about_plain_lines_lines_and_the_last_step():
    out = io.StringIO()
    with PlainProgress(total=1000, desc="run", file=out) as bar:
        for step in range(1, 1001):
            bar.update(1)
            bar.set_postfix({"G_GAN": f"{step / 1000:.3f}"})
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == PLAIN_LINES
    assert lines[0].startswith("run: step 50/1000 (5%), ") and lines[0].endswith("s, G_GAN 0.049")
    assert lines[-1].startswith("run: step 1000/1000 (100%), ")


def test_plain_progress_closes_with_the_step_it_stopped_at_and_stays_quiet_when_disabled():
    out = io.StringIO()
    with PlainProgress(total=1000, initial=400, desc="run", file=out) as bar:
        bar.update(7)
        end_early(bar, 407)
    (line,) = out.getvalue().splitlines()
    assert line.startswith("run: step 407/407 (100%), ")
    quiet = io.StringIO()
    with PlainProgress(total=10, desc="run", disable=True, file=quiet) as bar:
        bar.update(10)
        bar.write("hello")
    assert quiet.getvalue() == ""


def test_slow_steps_still_print_a_line_every_plain_seconds(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    out = io.StringIO()
    with PlainProgress(total=1000, desc="slow", file=out) as bar:
        for _ in range(6):
            now[0] += 20.0  # 20 s per step, 50 steps per line: only the clock makes lines
            bar.update(1)
    steps = [line.split()[2] for line in out.getvalue().splitlines()]
    assert steps == ["2/1000", "4/1000", "6/1000"]


def test_a_notebook_bar_ended_early_closes_full_and_green():
    notebook = pytest.importorskip("tqdm.notebook")
    bar = notebook.tqdm(total=1200)
    bar.update(436)
    end_early(bar, 436)
    bar.close()
    widget = bar.container.children[1]
    assert (widget.value, widget.max, widget.bar_style) == (436, 436, "success")


@pytest.mark.parametrize(("stdout", "kernel", "plain"), [(io.StringIO(), False, True), (Terminal(), False, False),
                                                        (io.StringIO(), True, False)])
def test_the_bar_is_plain_only_without_a_terminal_or_a_notebook(monkeypatch, stdout, kernel, plain):
    monkeypatch.setattr(sys, "stdout", stdout)
    shell = type("ZMQInteractiveShell" if kernel else "TerminalInteractiveShell", (), {})()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    bar = progress_bar(total=5, desc="x", disable=True)
    assert isinstance(bar, PlainProgress) == plain and isinstance(bar, tqdm) != plain
    bar.close()
    assert progress.plain_output() == plain

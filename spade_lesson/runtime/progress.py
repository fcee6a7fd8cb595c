"""The training loop's progress display: a tqdm bar in a terminal or a notebook, plain lines anywhere else.

`progress_bar(total, initial, desc, disable)` returns tqdm.auto's bar when the output is a terminal or a Jupyter
kernel, and otherwise (a log file, a pipe, CI) a PlainProgress that prints one line every `total // PLAIN_LINES`
steps, or after PLAIN_SECONDS without one, instead of redrawing a bar with carriage returns. Both take update(n),
set_postfix(dict), write(text), and close as context managers; `end_early(bar, n)` makes n the total (a run stopped
by its time budget ends complete).
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

PLAIN_LINES = 20  # lines a plain progress log prints over a whole run (plus its last step)
PLAIN_SECONDS = 30.0  # ... and at least one line this often, however slow the steps


class PlainProgress:
    """Progress as plain lines on `file`: `desc: step n/total (p%), s elapsed, postfix`, about PLAIN_LINES of them
    (more when steps are slow: at least one every PLAIN_SECONDS)."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", disable: bool = False,
                 file: TextIO | None = None) -> None:
        self.total, self.n, self.desc, self.disable = total, initial, desc, disable
        self.file = file if file is not None else sys.stdout
        self.every = max(1, total // PLAIN_LINES)
        self.postfix: dict[str, Any] = {}
        self.started = self.last_line = time.perf_counter()
        self.printed = initial

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        """Count n more steps; print a line when another `every` steps or PLAIN_SECONDS have passed."""
        self.n += n
        if self.n // self.every > self.printed // self.every or time.perf_counter() - self.last_line >= PLAIN_SECONDS:
            self.line()

    def set_postfix(self, postfix: dict[str, Any], refresh: bool = False) -> None:
        """The values (e.g. losses) shown at the end of the next line."""
        self.postfix = dict(postfix)

    def write(self, text: str) -> None:
        """One line of text, between the progress lines."""
        if not self.disable:
            print(text, file=self.file, flush=True)

    def line(self) -> None:
        """Print the current step, percentage, elapsed time and postfix."""
        self.printed, self.last_line = self.n, time.perf_counter()
        values = "".join(f", {key} {value}" for key, value in self.postfix.items())
        self.write(f"{self.desc}: step {self.n}/{self.total} ({100 * self.n / max(self.total, 1):.0f}%), "
                   f"{time.perf_counter() - self.started:.0f} s{values}")

    def close(self) -> None:
        """Print the last step, unless its line was just printed."""
        if self.n != self.printed:
            self.line()


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell), where tqdm draws a widget."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def plain_output() -> bool:
    """True when nobody watches a redrawn bar: stdout is no terminal and this is not a Jupyter kernel."""
    return not sys.stdout.isatty() and not in_notebook()


def progress_bar(total: int, initial: int = 0, desc: str = "", disable: bool = False) -> Any:
    """A tqdm.auto bar in a terminal or notebook, else a PlainProgress printing plain lines to stdout."""
    if plain_output():
        return PlainProgress(total, initial=initial, desc=desc, disable=disable)
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, disable=disable, dynamic_ncols=True)


def end_early(bar: Any, n: int) -> None:
    """Make step n the bar's total, so that a run that stops there (its time budget) closes complete, not failed."""
    bar.total = n
    container = getattr(bar, "container", None)  # tqdm.notebook's widget: its progress bar is the middle child
    if container is not None:
        container.children[1].max = n

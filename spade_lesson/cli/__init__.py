"""The `spade-lesson` command: the course's jobs, one module per command (demo, train, sample, ablate, ...).

Each command module has `run(argv) -> int` and holds its own parser; the library modules it calls take plain
arguments. Start-up imports no torch: a command's module is imported only when it runs.
"""

from __future__ import annotations

import importlib
import sys

from spade_lesson.cli.parser import OneLineParser

COMMANDS = {
    "demo": "train a small SPADE generator on the offline dataset and write a picture",
    "train": "train SPADE (see `spade-lesson train -h`)",
    "sample": "draw label maps with a trained or official SPADE checkpoint (see `spade-lesson sample -h`)",
    "download": "download and prepare a real dataset (see `spade-lesson download -h`)",
    "assignments": "write the student versions of the notebooks for a class (see `spade-lesson assignments -h`)",
    "ablate": "the ablation: SPADE and its controls, scored by several segmenters (see `spade-lesson ablate -h`)",
}


def clear_errors() -> tuple[type[Exception], ...]:
    """The errors a command reports in one line: bad values, files (missing, unwritable, a full disk), and a training
    run stopped by a NaN."""
    train = sys.modules.get("spade_lesson.training.loop")  # imported (with torch) only by the commands that train
    return (ValueError, OSError) + ((train.NonFiniteLossError,) if train is not None else ())


def one_line(error: BaseException) -> str:
    """The error's message; for one a DataLoader worker raised, the worker's own message, not torch's traceback."""
    message = str(error).strip()
    if isinstance(error, OSError) and error.strerror:  # "[Errno 28] ..." without the number
        message = error.strerror + (f": {error.filename}" if error.filename else "")
    if message.startswith("Caught ") and "Original Traceback" in message:  # "Caught X in DataLoader worker ..."
        exception, _, original = message.splitlines()[-1].partition(": ")  # the traceback's "ValueError: message"
        message = original or exception
    return message


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen job: 0 done, 1 a clear error (one line), 2 bad usage, 130 Ctrl-C."""
    parser = OneLineParser(prog="spade-lesson", description="The SPADE course's command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, summary in COMMANDS.items():
        sub.add_parser(name, help=summary, add_help=False)
    args, rest = parser.parse_known_args(argv)
    command = importlib.import_module(f"spade_lesson.cli.{args.command}")
    try:
        return command.run(rest)
    except clear_errors() as error:  # evaluated when an error arrives, after the command imported what it needs
        print(f"spade-lesson {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

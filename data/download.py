"""Download and prepare a real dataset: `python data/download.py NAME --root data/` (see --help)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without `pip install -e .`

from spade_lesson.cli.download import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:], prog="python data/download.py"))

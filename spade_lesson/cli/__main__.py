"""`python -m spade_lesson.cli ...` (and `torchrun ... -m spade_lesson.cli train ...`): the `spade-lesson` command."""

import sys

from spade_lesson.cli import main

sys.exit(main())

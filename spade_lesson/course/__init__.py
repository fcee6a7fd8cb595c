"""What the notebooks use and nothing else does: the setup cell (notebook) and where the course installs from
(source), the painter widget (widgets, labelmap), the washout probes, the trainability fits, the exercise checks, and
the student versions of the notebooks (assignments)."""

from spade_lesson.course.notebook import fast_mode, find_checkpoint, setup
from spade_lesson.course.probe import plot_washout, washout_sweep
from spade_lesson.course.trainability import fit_decoder

__all__ = ["fast_mode", "find_checkpoint", "fit_decoder", "plot_washout", "setup", "washout_sweep"]

"""Exercise checks (one module per notebook): run a student's function against a trusted reference and say in one
line what is wrong.

Each `check_<name>(function)` prints `check_<name>: all N cases pass`, or raises `CheckFailed` naming the first case
that failed, the value expected and the value got (rounded), and a diagnosis: the check also computes the typical
wrong answers of the exercise (a missing `1 +`, a bilinear resize, the wrong normalization, a mean for a sum, swapped
signs...) and, when the answer is one of them, names it; otherwise it gives a hint that points at the step to look
at. The hints come in tiers (checks.core, HINT_TIERS): a recognised mistake is named on the first failed call of a
check, its fix in words comes from the FIX_AFTER-th failed call on, the complete formula from the REVEAL_AFTER-th. A
function that
still raises NotImplementedError (an unsolved nbgrader exercise) gets "not implemented yet: fill in <name> above".
In Jupyter a CheckFailed shows as that one line, without a traceback, and nbgrader's autograder counts the cell as
failed.
"""

from spade_lesson.course.checks.ablations import check_clade_forward, check_spade_branch_macs
from spade_lesson.course.checks.batchnorm import check_batch_norm_train, check_group_norm, check_update_running
from spade_lesson.course.checks.core import FIX_AFTER, FORMULAS, HINT_TIERS, REVEAL_AFTER, CheckFailed
from spade_lesson.course.checks.evaluation import check_frechet_distance, check_miou_from_confusion
from spade_lesson.course.checks.networks import check_patch_grid_size, check_spade_parameter_count, check_start_size
from spade_lesson.course.checks.painter import (
                                                check_brush_mask,
                                                check_flood_fill,
                                                check_interpolate_styles,
                                                check_sample_style,
)
from spade_lesson.course.checks.spade_layer import check_spade_forward, check_split_params
from spade_lesson.course.checks.training import check_hinge_loss, check_kl
from spade_lesson.course.checks.washout import check_ridge_probe, check_uniform_map_response

__all__ = [
    "CheckFailed", "FIX_AFTER", "FORMULAS", "HINT_TIERS", "REVEAL_AFTER", "check_batch_norm_train",
    "check_update_running",
    "check_group_norm", "check_uniform_map_response", "check_ridge_probe", "check_spade_forward",
    "check_split_params", "check_spade_parameter_count", "check_start_size", "check_patch_grid_size",
    "check_hinge_loss", "check_kl", "check_miou_from_confusion", "check_frechet_distance", "check_flood_fill",
    "check_brush_mask", "check_interpolate_styles", "check_sample_style", "check_clade_forward",
    "check_spade_branch_macs",
]

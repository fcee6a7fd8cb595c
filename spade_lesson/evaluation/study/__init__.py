"""The paper's ablations in miniature (Park et al., CVPR 2019, Sec. 4, Tables 3 and 4; Tan et al., TPAMI 2021), every
claim across training budgets, with the controls that calibrate its instruments.

config (the settings, the pinned training config, the results path), results (the resumable results file), judges
(the segmenters that score, and their training curves), scoring (mIoU, per-class IoU and KID of a set of pictures; the
calibration rows), runner (the runs through the one loop, several at once), claims (what the numbers support per
budget), report (tables and lines), figure, verify, modulation (SPADE's |gamma|, |beta| early in training),
appearance (how much of the data's colour the classes and their neighbours explain).
"""

from spade_lesson.evaluation.study.claims import CLAIMS, budgets, calibration, measure, summarize
from spade_lesson.evaluation.study.config import BUDGETS, COMMITTED, MODELS, PINNED, AblationConfig, gan_config
from spade_lesson.evaluation.study.report import claims_table, curve_table, progress_line, report, results_table
from spade_lesson.evaluation.study.results import load_results
from spade_lesson.evaluation.study.runner import run_ablation
from spade_lesson.evaluation.study.verify import verify

__all__ = ["BUDGETS", "CLAIMS", "COMMITTED", "MODELS", "PINNED", "AblationConfig", "budgets", "calibration",
           "claims_table", "curve_table", "gan_config", "load_results", "measure", "progress_line", "report",
           "results_table", "run_ablation", "summarize", "verify"]

"""Evaluation: mIoU and its confusion matrix (metrics), the segmenter that judges generated images, FID, KID in a
judge's features (realism), the no-learning painters that calibrate them (calibration), and the study of the paper's
ablations across budgets with its claims (study/)."""

from spade_lesson.evaluation.fid import frechet_distance
from spade_lesson.evaluation.metrics import class_iou, confusion_matrix, miou, pixel_accuracy
from spade_lesson.evaluation.segmenter import UNet, ceiling, evaluate, segment, train_segmenter

__all__ = ["UNet", "ceiling", "class_iou", "confusion_matrix", "evaluate", "frechet_distance", "miou",
           "pixel_accuracy", "segment", "train_segmenter"]

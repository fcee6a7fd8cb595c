"""Evaluation: mIoU and its confusion matrix (metrics), the segmenter that judges generated images, FID, and the
ablation study with its claims."""

from spade_lesson.evaluation.fid import frechet_distance
from spade_lesson.evaluation.metrics import class_iou, confusion_matrix, miou, pixel_accuracy
from spade_lesson.evaluation.segmenter import UNet, ceiling, evaluate, segment, train_segmenter

__all__ = ["UNet", "ceiling", "class_iou", "confusion_matrix", "evaluate", "frechet_distance", "miou",
           "pixel_accuracy", "segment", "train_segmenter"]

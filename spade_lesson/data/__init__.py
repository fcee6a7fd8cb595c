"""Data for the course: the offline Landscapes dataset, prepared real datasets, label-map helpers."""

from spade_lesson.data.folder import SegmentationFolder, load_dataset
from spade_lesson.data.landscapes import Landscapes
from spade_lesson.data.palette import colorize, to_uint8
from spade_lesson.data.semantic import instance_edges, one_hot

__all__ = ["Landscapes", "SegmentationFolder", "colorize", "instance_edges", "load_dataset", "one_hot", "to_uint8"]

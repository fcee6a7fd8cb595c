"""Data for the course: the offline Landscapes dataset, real datasets on disk (prepared or in their official layouts),
the official preprocessing, label-map helpers."""

from spade_lesson.data.batches import stack_items
from spade_lesson.data.errors import DatasetError
from spade_lesson.data.folder import SegmentationFolder, load_dataset
from spade_lesson.data.landscapes import Landscapes
from spade_lesson.data.palette import colorize, to_uint8
from spade_lesson.data.preprocess import Preprocess
from spade_lesson.data.semantic import instance_edges, one_hot

__all__ = ["DatasetError", "Landscapes", "Preprocess", "SegmentationFolder", "colorize", "instance_edges",
           "load_dataset", "one_hot", "stack_items", "to_uint8"]

"""Data for the course: the offline Landscapes dataset, prepared real datasets, label-map helpers."""

from spade_lesson.data.semantic import instance_edges, one_hot

__all__ = ["instance_edges", "one_hot"]

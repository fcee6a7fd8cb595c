"""An editable label map, the single source of truth of the painter: round-brush strokes, flood fill, undo.

Coordinates follow the canvas: x is the column, y the row, in label-map pixels (floats allowed; a point is snapped
to the centre of the pixel it falls in). Every pixel holds exactly one value: a class id 0..num_classes-1, or
255 (don't care) where a loaded map had one; strokes and fills only write class ids, never a blend.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np
import torch

from spade_lesson.data.semantic import IGNORE_INDEX

MAX_CLASSES = IGNORE_INDEX  # ids 0..254 fit in a byte beside the don't-care value 255
MAX_PIXELS = 4096 * 4096  # 16 MB a map, up to 1 GB with a full undo history of 64 maps
MAX_POINT = 2**20  # stroke points lie within this many pixels of the map's origin (a drag may leave the canvas)
MAX_REACH = 2**23  # a brush diameter beyond which every pixel is covered from any allowed point


def _linear_span(k: float, c: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the x with low <= k x + c <= high, as (from, to); empty rows have from > to."""
    if k == 0:
        inside = (low <= c) & (c <= high)
        return np.where(inside, -np.inf, np.inf), np.where(inside, np.inf, -np.inf)
    ends = ((low - c) / k, (high - c) / k)
    return (ends[0], ends[1]) if k > 0 else (ends[1], ends[0])


def capsule_spans(a: np.ndarray, b: np.ndarray, radius: float, height: int,
                  width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels whose centres lie within radius of the segment a-b (a capsule), row by row: (rows, first column,
    one past the last), in O(rows). The capsule is convex, so each row meets it in one span: the union of the spans of
    the discs at a and b and of the band between them."""
    r2 = radius * radius + 1e-9  # the tolerance of a pixel centre exactly on the edge
    y0 = max(int(np.floor(min(a[1], b[1]) - radius)), 0)
    y1 = min(int(np.ceil(max(a[1], b[1]) + radius)), height)
    rows = np.arange(y0, max(y1, y0))
    cy = rows + 0.5
    low, high = np.full(len(rows), np.inf), np.full(len(rows), -np.inf)
    for end in (a, b):  # the disc at each end: |x - ex| <= sqrt(r^2 - (cy - ey)^2)
        h2 = r2 - (cy - end[1]) ** 2
        half = np.sqrt(np.maximum(h2, 0.0))
        low = np.where(h2 >= 0, np.minimum(low, end[0] - half), low)
        high = np.where(h2 >= 0, np.maximum(high, end[0] + half), high)
    d = b - a
    length2 = float(d @ d)
    if length2 > 0:  # the band: 0 <= (p - a) . d <= |d|^2 and |(p - a) x d| <= r |d|
        along = _linear_span(d[0], -a[0] * d[0] + (cy - a[1]) * d[1], 0.0, length2)
        reach = np.sqrt(r2 * length2)
        across = _linear_span(d[1], -a[0] * d[1] - (cy - a[1]) * d[0], -reach, reach)
        band_low, band_high = np.maximum(along[0], across[0]), np.minimum(along[1], across[1])
        some = band_low <= band_high
        low = np.where(some, np.minimum(low, band_low), low)
        high = np.where(some, np.maximum(high, band_high), high)
    hit = low <= high
    rows, low, high = rows[hit], low[hit], high[hit]
    first = np.clip(np.ceil(low - 0.5 - 1e-9), 0, width).astype(np.int64)  # centres x + 0.5 in [low, high]
    last = np.clip(np.floor(high - 0.5 + 1e-9) + 1, 0, width).astype(np.int64)
    keep = first < last
    return rows[keep], first[keep], last[keep]


class LabelMap:
    """A (height, width) map of class ids with strokes, flood fill, clear, load and a bounded undo history."""

    def __init__(self, height: int, width: int, num_classes: int, fill: int = 0, history: int = 64) -> None:
        for name, value in (("height", height), ("width", width), ("num_classes", num_classes), ("history", history)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LabelMap: {name}={value!r}; pass a positive int")
        if num_classes > MAX_CLASSES:
            raise ValueError(f"LabelMap: num_classes={num_classes}; at most {MAX_CLASSES} classes fit in a byte")
        if height * width > MAX_PIXELS:
            raise ValueError(f"LabelMap: {height} x {width} is {height * width} pixels; at most {MAX_PIXELS} "
                             "(e.g. 4096 x 4096) fit in memory with the undo history")
        self.height, self.width, self.num_classes = height, width, num_classes
        self.fill_class = self.check_class(fill, "fill")
        self.ids = np.full((height, width), self.fill_class, dtype=np.uint8)
        self.history: deque[np.ndarray] = deque(maxlen=history)
        self.version = 0  # +1 on every change: a renderer compares it to know whether the picture is stale
        self._before: np.ndarray | None = None  # the map as an edit found it, pushed to history on its first change
        self._stroking = False  # the last edit was a stroke that a `continues=True` stroke may extend

    def check_class(self, class_id: int, name: str = "class_id") -> int:
        """class_id checked to be a paintable id 0..num_classes-1."""
        if isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)) \
                or not 0 <= class_id < self.num_classes:
            raise ValueError(f"LabelMap: {name}={class_id!r}; pass a class id from 0 to {self.num_classes - 1}")
        return int(class_id)

    def _begin(self, stroke: bool = False) -> None:
        """Start a new undoable edit (a stroke one that later pieces may continue)."""
        self._before = self.ids.copy()
        self._stroking = stroke

    def _changed(self) -> None:
        """Record that the current edit changed pixels: its starting map joins the history (once)."""
        if self._before is not None:
            self.history.append(self._before)
            self._before = None
        self.version += 1

    def stroke(self, points: Sequence[Sequence[float]], class_id: int, size: float, continues: bool = False) -> int:
        """Round brush of diameter `size` along `points` [(x, y), ...] -> pixels changed; continues: same undo step."""
        class_id = self.check_class(class_id)
        if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)) or not size >= 1 \
                or size == math.inf:
            raise ValueError(f"LabelMap.stroke: size={size!r}; pass a finite brush diameter of at least 1 pixel")
        try:
            xy = np.asarray(points, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond any float, such as 10**400
            xy = np.zeros((0, 0))
        if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) == 0 or not (np.abs(xy) <= MAX_POINT).all():
            raise ValueError(f"LabelMap.stroke: points must be a non-empty list of finite (x, y) pairs within "
                             f"+-{MAX_POINT} pixels")
        if not (continues and self._stroking):
            self._begin(stroke=True)
        centres = np.floor(xy) + 0.5  # snap to pixel centres: a size-1 brush paints exactly the pixels it touches
        radius = min(size, MAX_REACH) / 2  # wider brushes paint the same: any allowed point reaches every pixel
        edges = np.zeros((self.height, self.width + 1), dtype=np.int32)  # +1 where a span starts, -1 past its end
        for a, b in zip(centres, centres[1:] if len(centres) > 1 else centres):
            rows, first, last = capsule_spans(a, b, radius, self.height, self.width)
            np.add.at(edges, (rows, first), 1)
            np.add.at(edges, (rows, last), -1)
        mask = np.cumsum(edges, axis=1)[:, : self.width] > 0
        return self._paint(mask, class_id)

    def _paint(self, mask: np.ndarray, class_id: int) -> int:
        """Write class_id where mask is set; returns how many pixels changed."""
        mask &= self.ids != class_id
        changed = int(mask.sum())
        if changed:
            self._changed()
            self.ids[mask] = class_id
        return changed

    def fill(self, x: float, y: float, class_id: int) -> int:
        """Flood-fill the 4-connected region of equal ids around pixel (x, y) with class_id; returns pixels changed."""
        class_id = self.check_class(class_id)
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise ValueError(f"LabelMap.fill: (x, y)=({x}, {y}) is outside the {self.width} x {self.height} map")
        column, row = int(x), int(y)
        target = self.ids[row, column]
        self._begin()
        if target == class_id:
            return 0
        mask = np.zeros((self.height, self.width), dtype=bool)
        mask[row, column] = True
        todo = [(row, column)]  # an explicit stack: no recursion, so any region size is safe
        while todo:
            r, c = todo.pop()
            for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= nr < self.height and 0 <= nc < self.width and not mask[nr, nc] and self.ids[nr, nc] == target:
                    mask[nr, nc] = True
                    todo.append((nr, nc))
        return self._paint(mask, class_id)

    def clear(self, class_id: int | None = None) -> int:
        """Set every pixel to class_id (default: the fill class); returns pixels changed."""
        class_id = self.fill_class if class_id is None else self.check_class(class_id)
        self._begin()
        return self._paint(np.ones((self.height, self.width), dtype=bool), class_id)

    def undo(self) -> bool:
        """Go back one edit; False when there is nothing left to undo."""
        self._before, self._stroking = None, False
        if not self.history:
            return False
        self.ids = self.history.pop()
        self.version += 1
        return True

    def load(self, label: np.ndarray | torch.Tensor) -> None:
        """Replace the map with `label` (H, W) integer ids, checked (an undoable edit)."""
        ids = self.validate(label)
        self._begin()
        self._changed()
        self.ids = ids

    def validate(self, label: np.ndarray | torch.Tensor) -> np.ndarray:
        """label (H, W) integer ids in 0..num_classes-1 or 255 -> a uint8 copy; a one-line ValueError otherwise."""
        if isinstance(label, torch.Tensor):
            if label.dtype.is_floating_point or label.dtype.is_complex or label.dtype == torch.bool:
                raise ValueError(f"LabelMap: label has dtype {label.dtype}; pass integer class ids (e.g. torch.long)")
            label = label.detach().cpu().numpy()
        if not isinstance(label, np.ndarray):
            raise ValueError(f"LabelMap: label is a {type(label).__name__}; pass a numpy array or torch tensor")
        if label.dtype.kind not in "iu":
            raise ValueError(f"LabelMap: label has dtype {label.dtype}; pass integer class ids (e.g. np.uint8)")
        if label.shape != (self.height, self.width):
            raise ValueError(f"LabelMap: label has shape {label.shape}; expected (height, width) = "
                             f"({self.height}, {self.width})")
        bad = ((label < 0) | (label >= self.num_classes)) & (label != IGNORE_INDEX)
        if bad.any():
            raise ValueError(f"LabelMap: label holds id {int(label[bad][0])}; ids must be 0..{self.num_classes - 1} "
                             f"(or {IGNORE_INDEX} = don't care)")
        return label.astype(np.uint8)

    @classmethod
    def from_array(cls, label: np.ndarray | torch.Tensor, num_classes: int, history: int = 64) -> LabelMap:
        """A LabelMap holding `label` (H, W) integer ids (no undo step back to an empty map)."""
        shape = tuple(label.shape)
        if len(shape) != 2:
            raise ValueError(f"LabelMap.from_array: label has shape {shape}; pass a 2-D (height, width) map")
        labels = cls(shape[0], shape[1], num_classes, history=history)
        labels.ids = labels.validate(label)
        return labels

    def to_numpy(self) -> np.ndarray:
        """The map as a uint8 (H, W) numpy array (a copy)."""
        return self.ids.copy()

    def to_torch(self) -> torch.Tensor:
        """The map as a long (H, W) tensor, the format of a dataset item's "label"."""
        return torch.from_numpy(self.ids.astype(np.int64))

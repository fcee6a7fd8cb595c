"""LabelMap: round-brush strokes, 4-connected flood fill, undo, clear, array round trips and clear errors."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from one_line import one_line

from spade_lesson.course.labelmap import LabelMap


def reference_stroke(height: int, width: int, points: list[tuple[float, float]], size: float) -> np.ndarray:
    """Pixels whose centre is within size / 2 of the polyline through the snapped points, one pixel at a time."""
    centres = [(math.floor(x) + 0.5, math.floor(y) + 0.5) for x, y in points]
    segments = list(zip(centres, centres[1:])) or [(centres[0], centres[0])]
    mask = np.zeros((height, width), dtype=bool)
    for row in range(height):
        for column in range(width):
            p = (column + 0.5, row + 0.5)
            for (ax, ay), (bx, by) in segments:
                dx, dy = bx - ax, by - ay
                length2 = dx * dx + dy * dy
                t = 0.0 if length2 == 0 else min(max(((p[0] - ax) * dx + (p[1] - ay) * dy) / length2, 0), 1)
                if math.hypot(p[0] - ax - t * dx, p[1] - ay - t * dy) <= size / 2 + 1e-9:
                    mask[row, column] = True
    return mask


def reference_fill(ids: np.ndarray, x: int, y: int) -> np.ndarray:
    """The 4-connected region around (x, y), grown by repeated cross-shaped dilation inside the equal-id mask."""
    same = torch.from_numpy(ids == ids[y, x]).float()[None, None]
    region = torch.zeros_like(same)
    region[0, 0, y, x] = 1
    cross = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])[None, None]
    while True:
        grown = (F.conv2d(region, cross, padding=1) > 0).float() * same
        if torch.equal(grown, region):
            return region[0, 0].bool().numpy()
        region = grown


@pytest.mark.parametrize(("size", "pixels"), [(1, 1), (2, 5), (3, 9), (5, 21)])
def test_a_dot_paints_the_pixels_within_the_brush_radius(size, pixels):
    labels = LabelMap(16, 16, num_classes=3)
    assert labels.stroke([(8.3, 7.9)], class_id=2, size=size) == pixels
    rows, columns = np.nonzero(labels.ids == 2)
    assert (rows.mean(), columns.mean()) == (7, 8)  # centred on the pixel the point falls in (row 7, column 8)


@pytest.mark.parametrize("size", [1, 2, 3.5, 6])
def test_a_polyline_matches_the_pixel_by_pixel_reference(size):
    points = [(-3.0, 2.0), (10.2, 5.7), (4.0, 18.5), (4.0, 18.5), (27.9, 0.1)]
    labels = LabelMap(20, 24, num_classes=4, fill=1)
    labels.stroke(points, class_id=3, size=size)
    expected = reference_stroke(20, 24, points, size)
    assert np.array_equal(labels.ids == 3, expected)
    assert np.all(labels.ids[~expected] == 1)


def test_every_pixel_holds_exactly_one_class_after_overlapping_strokes():
    labels = LabelMap(12, 12, num_classes=5)
    for class_id, points in enumerate([[(0, 0), (11, 11)], [(0, 11), (11, 0)], [(6, 0), (6, 11)]], start=1):
        labels.stroke(points, class_id=class_id, size=3)
    assert labels.ids.dtype == np.uint8
    assert set(np.unique(labels.ids)) == {0, 1, 2, 3}
    assert labels.ids[6, 6] == 3  # the last stroke wins where strokes cross: no blend


def test_strokes_leaving_the_map_are_clipped():
    labels = LabelMap(8, 8, num_classes=2)
    assert labels.stroke([(-20, -20), (-10, -30)], class_id=1, size=4) == 0
    assert labels.stroke([(-5, 3.5), (100, 3.5)], class_id=1, size=1) == 8
    assert np.array_equal(np.nonzero(labels.ids)[0], np.full(8, 3))


def test_flood_fill_matches_the_dilation_reference_and_stops_at_diagonals():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 2, size=(24, 30)).astype(np.uint8)
    labels = LabelMap.from_array(ids, num_classes=3)
    changed = labels.fill(x=5, y=7, class_id=2)
    expected = reference_fill(ids, x=5, y=7)
    assert changed == expected.sum() > 1
    assert np.array_equal(labels.ids == 2, expected)
    diagonal = LabelMap.from_array(np.eye(4, dtype=np.uint8), num_classes=3)
    assert diagonal.fill(x=1, y=0, class_id=2) == 6  # the upper triangle only: 4-connected fills do not leak diagonally


def test_flood_fill_of_a_large_region_needs_no_recursion():
    labels = LabelMap(512, 512, num_classes=2)
    assert labels.fill(x=0, y=0, class_id=1) == 512 * 512


def test_filling_with_the_same_class_changes_nothing():
    labels = LabelMap(4, 4, num_classes=2)
    assert labels.fill(x=1, y=1, class_id=0) == 0
    assert not labels.undo()


def test_undo_steps_back_through_edits_and_a_drag_in_pieces_is_one_step():
    labels = LabelMap(10, 10, num_classes=4)
    states = [labels.to_numpy()]
    labels.stroke([(1, 1), (8, 1)], class_id=1, size=2)
    states.append(labels.to_numpy())
    labels.stroke([(1, 5)], class_id=2, size=1)
    labels.stroke([(1, 5), (5, 5)], class_id=2, size=1, continues=True)
    labels.stroke([(5, 5), (5, 9)], class_id=2, size=1, continues=True)
    states.append(labels.to_numpy())
    labels.fill(x=9, y=9, class_id=3)
    states.append(labels.to_numpy())
    labels.clear()
    assert len(labels.history) == 4
    for state in reversed(states):
        assert labels.undo()
        assert np.array_equal(labels.ids, state)
    assert not labels.undo()


def test_a_continued_stroke_after_another_edit_starts_its_own_undo_step():
    labels = LabelMap(6, 6, num_classes=3)
    labels.stroke([(0, 0)], class_id=1, size=1)
    labels.fill(x=5, y=5, class_id=2)
    labels.stroke([(3, 3)], class_id=1, size=1, continues=True)
    assert labels.undo() and labels.ids[3, 3] == 2 and labels.ids[5, 5] == 2


def test_history_is_bounded():
    labels = LabelMap(4, 4, num_classes=2, history=3)
    for step in range(10):
        labels.stroke([(step % 4, step // 4)], class_id=1, size=1)
    assert len(labels.history) == 3
    assert sum(labels.undo() for _ in range(10)) == 3


def test_version_counts_changes_only():
    labels = LabelMap(4, 4, num_classes=2)
    labels.stroke([(0, 0)], class_id=0, size=1)
    assert labels.version == 0
    labels.stroke([(0, 0)], class_id=1, size=1)
    labels.undo()
    assert labels.version == 2


def test_clear_paints_everything_with_the_fill_class_or_a_given_one():
    labels = LabelMap(5, 6, num_classes=3, fill=2)
    labels.stroke([(0, 0), (5, 4)], class_id=0, size=3)
    assert labels.clear() > 0 and np.all(labels.ids == 2)
    assert labels.clear(class_id=1) == 30 and np.all(labels.ids == 1)


def test_round_trips_through_numpy_and_torch():
    ids = np.random.default_rng(1).integers(0, 7, size=(9, 11))
    ids[0, 0] = 255  # a loaded map may keep don't-care pixels
    labels = LabelMap.from_array(torch.from_numpy(ids), num_classes=7)
    out = labels.to_torch()
    assert out.dtype == torch.long and out.shape == (9, 11)
    assert np.array_equal(out.numpy(), ids) and np.array_equal(labels.to_numpy(), ids)
    labels.load(np.zeros((9, 11), dtype=np.int32))
    assert labels.to_numpy().sum() == 0
    assert labels.undo() and np.array_equal(labels.to_numpy(), ids)
    labels.to_numpy()[:] = 1
    labels.to_torch()[:] = 1
    assert np.array_equal(labels.ids, ids)  # both are copies


@pytest.mark.parametrize(("label", "message"), [
    (np.zeros((4, 5), dtype=np.uint8), "shape"),
    (np.zeros((4, 4, 1), dtype=np.uint8), "shape"),
    (np.zeros((4, 4), dtype=np.float32), "dtype"),
    (torch.zeros(4, 4), "dtype"),
    (torch.zeros(4, 4, dtype=torch.bool), "dtype"),
    (np.full((4, 4), 3), "holds id 3"),
    (np.full((4, 4), -1), "holds id -1"),
    ([[0] * 4] * 4, "numpy array or torch tensor"),
])
def test_load_refuses_bad_arrays_with_one_line(label, message):
    labels = LabelMap(4, 4, num_classes=3)
    with pytest.raises(ValueError, match=message) as error:
        labels.load(label)
    assert "\n" not in str(error.value)
    assert labels.version == 0 and not labels.undo()


@pytest.mark.parametrize(("call", "message"), [
    (lambda m: m.stroke([(1, 1)], class_id=3, size=1), "class_id=3"),
    (lambda m: m.stroke([(1, 1)], class_id=True, size=1), "class_id=True"),
    (lambda m: m.stroke([(1, 1)], class_id=0, size=0.5), "size=0.5"),
    (lambda m: m.stroke([], class_id=0, size=1), "non-empty"),
    (lambda m: m.stroke([(1, 2, 3)], class_id=0, size=1), "pairs"),
    (lambda m: m.stroke([(1, float("nan"))], class_id=0, size=1), "finite"),
    (lambda m: m.fill(x=4, y=0, class_id=1), "outside"),
    (lambda m: m.fill(x=0, y=-1, class_id=1), "outside"),
    (lambda m: m.clear(class_id=-1), "class_id=-1"),
])
def test_bad_edits_raise_one_line_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(LabelMap(4, 4, num_classes=3))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"height": 0, "width": 4, "num_classes": 3}, "height=0"),
    ({"height": 4, "width": 4.0, "num_classes": 3}, "width=4.0"),
    ({"height": 4, "width": 4, "num_classes": 300}, "num_classes=300"),
    ({"height": 4, "width": 4, "num_classes": 3, "fill": 3}, "fill=3"),
    ({"height": 4, "width": 4, "num_classes": 3, "history": 0}, "history=0"),
])
def test_bad_construction_raises_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LabelMap(**kwargs)


def test_from_array_refuses_a_map_that_is_not_2d():
    with pytest.raises(ValueError, match="2-D"):
        LabelMap.from_array(np.zeros((1, 4, 4), dtype=np.uint8), num_classes=2)


@pytest.mark.parametrize("size", [10**6, 3000])
def test_a_long_stroke_of_a_huge_brush_on_the_largest_map_is_quick(size):
    import time

    labels = LabelMap(4096, 4096, num_classes=3)
    start = time.perf_counter()
    assert labels.stroke([[20 * k % 4096, 15 * k % 4096] for k in range(200)], 1, size) > 10**7
    assert time.perf_counter() - start < 10  # 98 s before: every segment measured every pixel of its box


def test_a_stroke_paints_exactly_the_pixel_centres_within_the_brush_of_the_path():
    rng = np.random.default_rng(0)
    for _ in range(200):
        height, width = (int(n) for n in rng.integers(1, 40, 2))
        points = rng.uniform(-10, 50, (int(rng.integers(1, 5)), 2))
        size = float(rng.choice([1, 2, 3, 4.5, 7, rng.uniform(1, 30)]))
        labels = LabelMap(height, width, num_classes=3)
        labels.stroke(points.tolist(), 1, size)
        centres, radius = np.floor(points) + 0.5, size / 2  # the reference: each pixel's distance to each segment
        py, px = np.mgrid[0:height, 0:width] + 0.5
        expected = np.zeros((height, width), dtype=bool)
        for a, b in zip(centres, centres[1:] if len(centres) > 1 else centres):
            d = b - a
            t = np.clip(((px - a[0]) * d[0] + (py - a[1]) * d[1]) / max(float(d @ d), 1e-300), 0, 1)
            expected |= (px - a[0] - t * d[0]) ** 2 + (py - a[1] - t * d[1]) ** 2 <= radius * radius + 1e-9
        assert np.array_equal(labels.to_numpy() == 1, expected)


# ---- values beyond any sensible size ----

def test_brush_size_inf_is_refused_and_the_map_is_unchanged() -> None:
    labels = LabelMap(8, 8, 3)
    with pytest.raises(ValueError) as error:
        labels.stroke([(1, 1)], class_id=1, size=float("inf"))
    one_line(str(error.value), "size=inf", "finite")
    assert (labels.ids == 0).all() and labels.version == 0


def test_brush_size_10_to_the_400_paints_the_whole_map_in_one_undo_step() -> None:
    labels = LabelMap(8, 8, 3)
    assert labels.stroke([(-5, -5)], class_id=1, size=10**400) == 64
    assert (labels.ids == 1).all()
    assert labels.undo() and (labels.ids == 0).all()


def test_a_label_map_too_large_for_memory_is_refused_before_allocating() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as error:
            LabelMap(10**5, 10**5, 9)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_line(str(error.value), "100000 x 100000", str(4096 * 4096))
    assert peak < 2**20  # not the 10 GB the map would take
    assert LabelMap(4096, 4096, 9).ids.shape == (4096, 4096)  # the largest allowed still works



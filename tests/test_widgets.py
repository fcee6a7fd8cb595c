"""The painter widget without a browser: debounced rendering, canvas messages, the Painter's controls and renders."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from one_line import one_line
from PIL import Image

from spade_lesson.course import widgets
from spade_lesson.course.labelmap import LabelMap
from spade_lesson.course.widgets import Debouncer, LabelCanvas, Painter, apply_message, call_later, image_png
from spade_lesson.data import Landscapes, one_hot
from spade_lesson.models.encoder import ConvEncoder
from spade_lesson.models.generator import SPADEGenerator

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


class FakeLoop:
    """A clock and a call_later that runs nothing until told: what the kernel's event loop does between messages."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waiting: list[tuple[float, object]] = []

    def clock(self) -> float:
        """The fake time."""
        return self.now

    def call_later(self, delay: float, callback) -> None:
        """Remember callback until `delay` seconds of fake time have passed."""
        self.waiting.append((self.now + delay, callback))

    def advance(self, seconds: float) -> None:
        """Let time pass, running each callback at the time it falls due (renders take no time here)."""
        end = self.now + seconds
        while self.waiting and min(self.waiting, key=lambda item: item[0])[0] <= end + 1e-12:
            item = min(self.waiting, key=lambda item: item[0])
            self.waiting.remove(item)
            self.now = max(self.now, item[0])
            item[1]()
        self.now = end


@pytest.fixture
def loop(monkeypatch) -> FakeLoop:
    fake = FakeLoop()
    monkeypatch.setattr(widgets, "call_later", fake.call_later)
    monkeypatch.setattr(widgets.time, "monotonic", fake.clock)
    return fake


@pytest.fixture(scope="module")
def dataset() -> Landscapes:
    return Landscapes(size=32, length=4)


@pytest.fixture(scope="module")
def networks(dataset) -> tuple[SPADEGenerator, ConvEncoder]:
    torch.manual_seed(0)
    generator = SPADEGenerator(dataset.num_classes, ngf=2, crop_size=32, use_vae=True, z_dim=8, spade_hidden=8)
    encoder = ConvEncoder(ngf=2, z_dim=8)
    return generator, encoder


def stroke(points, class_id=1, size=3, continues=False) -> dict:
    return {"kind": "stroke", "points": points, "class_id": class_id, "size": size, "continues": continues}


def test_debouncer_merges_requests_into_one_run_on_the_latest_state():
    fake = FakeLoop()
    seen: list[int] = []
    state = {"value": 0}
    debouncer = Debouncer(lambda: seen.append(state["value"]), interval=0.2, schedule=fake.call_later,
                          clock=fake.clock)
    for value in range(1, 21):  # twenty edits arrive while the first run is still waiting
        state["value"] = value
        debouncer.request()
    assert len(fake.waiting) == 1
    fake.advance(0.0)
    assert seen == [20]


def test_debouncer_keeps_interval_seconds_between_runs():
    fake = FakeLoop()
    runs: list[float] = []
    debouncer = Debouncer(lambda: runs.append(fake.now), interval=0.2, schedule=fake.call_later, clock=fake.clock)
    for _ in range(30):  # an edit every 0.05 s for 1.5 s
        debouncer.request()
        fake.advance(0.05)
    fake.advance(1.0)
    assert runs == pytest.approx([0.2 * k for k in range(9)])  # every 0.2 s, not 30 times; the last after the last edit


def test_debouncer_recovers_after_a_failing_run():
    fake = FakeLoop()
    calls = []

    def fail() -> None:
        calls.append(1)
        raise RuntimeError("boom")

    debouncer = Debouncer(fail, interval=0.1, schedule=fake.call_later, clock=fake.clock)
    debouncer.request()
    with pytest.raises(RuntimeError):
        fake.advance(0.0)
    debouncer.request()
    with pytest.raises(RuntimeError):
        fake.advance(0.1)
    assert len(calls) == 2  # the failure did not leave the debouncer thinking a run is still pending


def test_debouncer_refuses_a_negative_interval():
    with pytest.raises(ValueError, match="interval=-1"):
        Debouncer(lambda: None, interval=-1)


def test_call_later_runs_at_once_without_an_event_loop_and_later_inside_one():
    ran: list[str] = []
    call_later(10.0, lambda: ran.append("now"))
    assert ran == ["now"]

    async def inside() -> None:
        call_later(0.01, lambda: ran.append("later"))
        assert ran == ["now"]
        await asyncio.sleep(0.05)

    asyncio.run(inside())
    assert ran == ["now", "later"]


def test_apply_message_strokes_and_fills():
    labels = LabelMap(8, 8, num_classes=3)
    assert apply_message(labels, stroke([[0.5, 0.5], [7.5, 0.5]], class_id=1, size=1)) == 8
    assert apply_message(labels, {"kind": "fill", "x": 8.0, "y": 8.0, "class_id": 2}) == 56  # the edge counts
    assert set(np.unique(labels.ids)) == {1, 2}
    with pytest.raises(ValueError, match="kind='erase'"):
        apply_message(labels, {"kind": "erase"})


def test_image_png_round_trips_the_pixels():
    image = torch.linspace(-1, 1, 3 * 4 * 5).reshape(3, 4, 5)
    decoded = np.asarray(Image.open(io.BytesIO(image_png(image))))
    expected = ((image + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert decoded.shape == (4, 5, 3) and np.array_equal(decoded, expected)


def test_canvas_sends_the_map_as_bytes_and_applies_messages():
    labels = LabelMap(6, 7, num_classes=3)
    canvas = LabelCanvas(labels, palette=[(0, 0, 0), (255, 0, 0), (0, 255, 0)], scale=3)
    edits = []
    canvas.edited.append(lambda: edits.append(labels.version))
    assert (canvas.width, canvas.height, canvas.scale) == (7, 6, 3)
    assert canvas.labels == bytes(42) and canvas.version == 0
    assert canvas.handle(stroke([[2, 2], [5, 2]], class_id=2, size=1)) == 4
    assert np.array_equal(np.frombuffer(canvas.labels, dtype=np.uint8).reshape(6, 7), labels.ids)
    assert canvas.version == labels.version == 1 and edits == [1]
    assert canvas.handle(stroke([[2, 2]], class_id=2, size=1)) == 0 and edits == [1]  # no change, no render
    assert canvas.handle({"kind": "stroke", "points": [[1, 1]]}) == 0
    assert "KeyError" in canvas.error
    assert canvas.handle(stroke([[1, 1]], class_id=9)) == 0 and "class_id=9" in canvas.error


def test_canvas_needs_a_colour_per_class():
    with pytest.raises(ValueError, match="palette has 1 colours for 3 classes"):
        LabelCanvas(LabelMap(4, 4, num_classes=3), palette=[(0, 0, 0)])


def test_the_canvas_module_is_shipped_as_package_data():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = [path for pattern in package_data["spade_lesson"] for path in (ROOT / "spade_lesson").glob(pattern)]
    assert ROOT / "spade_lesson" / "course" / "widgets.js" in shipped
    source = (ROOT / "spade_lesson" / "course" / "widgets.js").read_text()
    assert "export default" in source and "imageSmoothingEnabled = false" in source


@pytest.mark.slow
def test_painter_renders_what_the_generator_makes_of_the_one_hot_map(networks, dataset):
    generator, encoder = networks
    painter = Painter(generator, dataset, encoder=encoder, seed=3)
    assert np.array_equal(painter.labels.to_numpy(), dataset[0]["label"].numpy())  # starts from item 0
    image = painter.render_once()
    with torch.no_grad():
        expected = generator(one_hot(dataset[0]["label"][None], dataset.num_classes), painter.style_from_seed(3))[0]
    assert image.shape == (3, 32, 32) and torch.allclose(image, expected, atol=1e-6)
    assert painter.picture.value == image_png(image)


@pytest.mark.slow
def test_painting_many_strokes_renders_once_on_the_final_map(networks, dataset, loop):
    painter = Painter(*networks[:1], dataset, encoder=networks[1])
    renders = painter.renders
    for i in range(12):
        painter.canvas.handle(stroke([[i, 2], [i, 30]], class_id=4, size=2, continues=i > 0))
    assert painter.renders == renders  # nothing rendered while the kernel is busy with strokes
    loop.advance(0.2)
    assert painter.renders == renders + 1
    assert painter.picture.value == image_png(painter.generate(painter.labels.to_torch(), painter.z))
    assert np.all(painter.labels.to_numpy()[2:30, 0:12] == 4)
    painter.undo()
    assert np.array_equal(painter.labels.to_numpy(), dataset[0]["label"].numpy())  # the drag was one undo step
    loop.advance(0.2)
    assert painter.renders == renders + 2


@pytest.mark.slow
def test_painter_controls_change_the_map(networks, dataset):
    painter = Painter(networks[0], dataset, encoder=networks[1])
    painter.select_class(2)
    assert painter.canvas.class_id == 2
    assert painter.class_buttons[2].description.startswith("\u2713") and painter.class_buttons[0].description == "sky"
    painter.clear()
    assert np.all(painter.labels.to_numpy() == 2) and painter.canvas.version == painter.labels.version
    painter.load_label(3)
    assert np.array_equal(painter.labels.to_numpy(), dataset[3]["label"].numpy())
    painter.brush.value = 5
    painter.tool.value = "fill"
    assert (painter.canvas.brush_size, painter.canvas.tool) == (5, "fill")
    with pytest.raises(ValueError, match="class_id=99"):
        painter.select_class(99)


@pytest.mark.slow
def test_styles_come_from_a_seed_or_from_an_image(networks, dataset):
    generator, encoder = networks
    painter = Painter(generator, dataset, encoder=encoder)
    assert torch.equal(painter.style_from_seed(1), painter.style_from_seed(1))
    assert not torch.equal(painter.style_from_seed(1), painter.style_from_seed(2))
    painter.seed.value = 7
    assert torch.equal(painter.z, painter.style_from_seed(7))
    painter.use_image_style(2)
    with torch.no_grad():
        mu, _ = encoder(dataset[2]["image"][None])
    assert torch.allclose(painter.z, mu)
    first = painter.render_once()
    painter.use_seed(11)
    assert not torch.allclose(first, painter.render_once())  # the same map, another style, another picture


def test_painter_without_a_dataset_or_vae_has_no_style_or_dataset_controls(dataset):
    generator = SPADEGenerator(dataset.num_classes, ngf=2, crop_size=32, spade_hidden=8)
    painter = Painter(generator, class_names=dataset.class_names, palette=dataset.palette)
    assert painter.z is None and not hasattr(painter, "seed") and not hasattr(painter, "index")
    assert np.all(painter.labels.to_numpy() == 0)
    with pytest.raises(ValueError, match="no encoder"):
        painter.style_from_image(dataset[0]["image"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "pass a dataset"),
    ({"class_names": ["a", "b"], "palette": [(0, 0, 0)]}, "pass a dataset"),
    ({"class_names": ["a", "b"], "palette": [(0, 0, 0), (1, 1, 1)]}, "semantic_nc"),
])
def test_painter_refuses_inconsistent_classes(networks, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Painter(networks[0], **kwargs)


def test_painter_refuses_an_encoder_for_a_generator_without_vae_and_a_dataset_of_another_size(dataset, networks):
    plain = SPADEGenerator(dataset.num_classes, ngf=2, crop_size=32, spade_hidden=8)
    with pytest.raises(ValueError, match="use_vae=False"):
        Painter(plain, dataset, encoder=networks[1])
    with pytest.raises(ValueError, match="generator's size"):
        Painter(networks[0], Landscapes(size=64, length=2))


def test_a_failed_debounced_render_shows_in_the_status_line(networks, dataset, loop):
    painter = Painter(networks[0], dataset, encoder=networks[1])
    painter.z = torch.zeros(1, 3)  # a style code of the wrong size
    painter.canvas.handle(stroke([[5, 5]], class_id=1))
    loop.advance(0.2)
    assert painter.status.value.startswith("render failed: ValueError")


# ---- palette, scale and malformed canvas messages ----

PALETTE = [(0, 0, 0), (255, 0, 0), (0, 255, 0)]


@pytest.fixture(scope="module")
def small_generator() -> SPADEGenerator:
    torch.manual_seed(0)
    return SPADEGenerator(3, ngf=2, crop_size=32, spade_hidden=8)


def test_a_list_sent_to_the_canvas_is_kept_as_an_error_not_raised() -> None:
    labels = LabelMap(8, 8, 3)
    canvas = LabelCanvas(labels, PALETTE)
    assert canvas.handle(["stroke", [(1, 1)], 1, 3]) == 0
    one_line(canvas.error, "list", "dict")
    assert canvas.handle({"kind": "stroke", "points": [(1, 1)], "class_id": 1, "size": float("inf")}) == 0
    one_line(canvas.error, "size=inf")
    assert (labels.ids == 0).all() and labels.version == 0


@pytest.mark.parametrize(("message", "shown"), [
    (None, "NoneType"),
    ("stroke", "str"),
    ({"kind": "stroke", "points": [(10**400, 1)], "class_id": 1, "size": 2}, "finite (x, y) pairs"),
    ({"kind": "stroke", "points": [(1, 1)], "class_id": 10**400, "size": 2}, "class_id=1000"),
    ({"kind": "fill", "x": None, "y": 1, "class_id": 1}, "NoneType"),
])
def test_malformed_canvas_messages_are_kept_as_one_line_errors(message, shown) -> None:
    labels = LabelMap(8, 8, 3)
    canvas = LabelCanvas(labels, PALETTE)
    assert canvas.handle(message) == 0
    one_line(canvas.error, shown)
    assert (labels.ids == 0).all() and labels.version == 0


def test_a_fill_click_beyond_any_float_lands_on_the_canvas_edge() -> None:
    labels = LabelMap(8, 8, 3)
    canvas = LabelCanvas(labels, PALETTE)
    assert canvas.handle({"kind": "fill", "x": 10**400, "y": -10**400, "class_id": 2}) == 64
    assert canvas.error == "" and (labels.ids == 2).all()


@pytest.mark.parametrize(("palette", "shown"), [
    ([(300, -1, 0)] * 3, "(300, -1, 0)"),
    ([(0, 0)] * 3, "(0, 0)"),
    ([(0.5, 0, 0)] * 3, "(0.5, 0, 0)"),
    (["#ff0000"] * 3, "'#ff0000'"),
])
def test_a_palette_colour_outside_0_255_is_refused_by_canvas_and_painter(small_generator, palette, shown) -> None:
    with pytest.raises(ValueError) as error:
        LabelCanvas(LabelMap(8, 8, 3), palette)
    one_line(str(error.value), "LabelCanvas", "palette colour 0", shown, "0..255")
    with pytest.raises(ValueError) as error:
        Painter(small_generator, class_names=["a", "b", "c"], palette=palette)
    one_line(str(error.value), "Painter", "palette colour 0", shown, "0..255")


@pytest.mark.parametrize("scale", [0, -2, 1.5, 10**6])
def test_painter_scale_must_be_a_sensible_int(small_generator, scale) -> None:
    with pytest.raises(ValueError) as error:
        Painter(small_generator, class_names=["a", "b", "c"], palette=PALETTE, scale=scale)
    one_line(str(error.value), "Painter", f"scale={scale!r}", "1 to 64")


def test_painter_builds_the_input_as_a_run_with_dontcare_and_instance_edges_did(dataset):
    from spade_lesson.layers.semantic_input import input_options, semantic_input

    torch.manual_seed(0)
    generator = SPADEGenerator(dataset.num_classes + 2, ngf=2, crop_size=32, spade_hidden=8)
    with pytest.raises(ValueError, match="make 9 input channels .* semantic_nc=11; .*input_options"):
        Painter(generator, dataset)
    options = input_options({"contain_dontcare_label": True, "no_instance": False})
    painter = Painter(generator, dataset, **options)
    image = painter.render_once()
    with torch.no_grad():
        expected = generator.eval()(semantic_input(dataset[0]["label"][None], dataset.num_classes, True, False))[0]
    assert torch.allclose(image, expected, atol=1e-6)


def test_painter_refuses_a_device_this_machine_lacks_and_a_seed_that_cannot_seed(networks, dataset):
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda' is not available"):
            Painter(networks[0], dataset, device="cuda")
    painter = Painter(networks[0], dataset, encoder=networks[1])
    with pytest.raises(ValueError, match="style seed=1180591620717411303424: pass a whole number from 0 to 2"):
        painter.style_from_seed(2**70)
    painter._use_seed_quietly(2**70)  # the seed box's callback: the status line says it, nothing is raised
    assert "style seed" in painter.status.value

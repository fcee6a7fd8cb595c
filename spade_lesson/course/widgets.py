"""Interactive GauGAN: paint a label map on a canvas, see the SPADE generator's picture beside it, change its style.

`LabelCanvas` is the painting surface (an anywidget whose browser half is widgets.js): it draws the label map that
Python sends and sends back strokes (class, size, points) and fills, which Python applies to a `LabelMap`, the single
source of truth. `Painter(generator, dataset=None, encoder=None, ...)` adds the controls (palette legend, brush size,
brush / fill, undo, clear, a dataset's label map, style: seed, random, from an image) and the picture, re-rendered
at most every `interval` seconds on the latest map by a `Debouncer`; `render_once()` renders now (tests, figures).
Works in JupyterLab 4, Notebook 7 and Colab (ipywidgets 7.7+ or 8) without building any extension.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import numpy as np
import torch
import traitlets
from PIL import Image
from torch import nn

from spade_lesson.course.labelmap import LabelMap
from spade_lesson.data.palette import check_palette, to_uint8
from spade_lesson.layers.semantic_input import semantic_input, semantic_nc
from spade_lesson.runtime.machine import SEED_LIMIT, check_seed, pick_device

TOOLS = ("brush", "fill")
MAX_SCALE = 64  # screen pixels per label-map pixel: a 64 px map drawn 4096 px wide at most


def call_later(delay: float, callback: Callable[[], None]) -> None:
    """Run callback after `delay` seconds on the running event loop (the kernel's); at once when there is none."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        callback()
        return
    loop.call_later(delay, callback)


class Debouncer:
    """Run `action` at most once per `interval` seconds, always on the latest state: requests meanwhile merge."""

    def __init__(self, action: Callable[[], None], interval: float = 0.2,
                 schedule: Callable[[float, Callable[[], None]], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not interval >= 0:
            raise ValueError(f"Debouncer: interval={interval!r}; pass seconds >= 0 (e.g. 0.2)")
        self.action, self.interval, self.clock = action, interval, clock
        self.schedule = schedule or call_later
        self.pending = False  # a run is scheduled: it will see every edit made before it starts
        self.last_end = -math.inf

    def request(self) -> None:
        """Ask for a run: schedule one `interval` after the last run ended, unless one is already waiting."""
        if self.pending:
            return
        self.pending = True
        self.schedule(max(0.0, self.last_end + self.interval - self.clock()), self._run)

    def _run(self) -> None:
        """The scheduled run: the action on whatever the state is now."""
        self.pending = False
        try:
            self.action()
        finally:
            self.last_end = self.clock()  # the kernel gets `interval` seconds of strokes between two renders


def apply_message(labels: LabelMap, content: dict[str, Any]) -> int:
    """Apply one canvas message ({"kind": "stroke", points, class_id, size, continues} or "fill") -> pixels changed."""
    if not isinstance(content, dict):
        raise ValueError(f"canvas message is a {type(content).__name__}; expected a dict with a 'kind'")
    kind = content.get("kind")
    if kind == "stroke":
        return labels.stroke(content["points"], class_id=content["class_id"], size=content["size"],
                             continues=bool(content.get("continues", False)))
    if kind == "fill":
        x, y = (edge(content[name], last) for name, last in (("x", labels.width - 1), ("y", labels.height - 1)))
        return labels.fill(x, y, class_id=content["class_id"])
    raise ValueError(f"canvas message kind={kind!r}: expected 'stroke' or 'fill'")


def edge(value: Any, last: float) -> float:
    """A click's coordinate as a float, moved onto the map's 0..last when it fell just off (the canvas' very edge)."""
    try:
        return min(max(float(value), 0.0), last)
    except OverflowError:  # an int beyond any float, such as 10**400
        return last if value > 0 else 0.0


def image_png(image: torch.Tensor) -> bytes:
    """image: (3, H, W) float in [-1, 1] -> PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image).numpy()).save(buffer, format="PNG")
    return buffer.getvalue()


def text_colour(rgb: Sequence[int]) -> str:
    """Black or white, whichever reads better on the colour rgb (by its luma)."""
    return "black" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140 else "white"


def check_scale(scale: int, who: str) -> None:
    """A one-line ValueError unless scale (screen pixels per label-map pixel) is an int from 1 to MAX_SCALE."""
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"{who}: scale={scale!r}; pass screen pixels per label-map pixel, an int from 1 to "
                         f"{MAX_SCALE}")


class LabelCanvas(anywidget.AnyWidget):
    """The painting surface: draws `label_map` in the palette, nearest-neighbour scaled, and applies strokes to it."""

    _esm = Path(__file__).with_name("widgets.js")
    width = traitlets.Int(1).tag(sync=True)
    height = traitlets.Int(1).tag(sync=True)
    scale = traitlets.Int(4).tag(sync=True)  # screen pixels per label-map pixel
    palette = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    labels = traitlets.Bytes(b"").tag(sync=True)  # the map's class ids, row by row, one byte each
    version = traitlets.Int(0).tag(sync=True)
    class_id = traitlets.Int(0).tag(sync=True)
    brush_size = traitlets.Int(4).tag(sync=True)
    tool = traitlets.Unicode("brush").tag(sync=True)

    def __init__(self, label_map: LabelMap, palette: Sequence[Sequence[int]], scale: int = 4) -> None:
        palette = check_palette(palette, label_map.num_classes, "LabelCanvas")
        check_scale(scale, "LabelCanvas")
        super().__init__(width=label_map.width, height=label_map.height, scale=scale,
                         palette=[list(colour) for colour in palette])
        self.label_map = label_map
        self.edited: list[Callable[[], None]] = []  # called after every change the canvas or Python makes
        self.error = ""  # the last message that could not be applied
        self.on_msg(lambda _widget, content, _buffers: self.handle(content))
        self.show()

    def show(self) -> None:
        """Send the label map to the browser (call after changing label_map from Python) and tell `edited`."""
        with self.hold_sync():
            self.labels = self.label_map.ids.tobytes()
            self.version = self.label_map.version
        for callback in self.edited:
            callback()

    def handle(self, content: dict[str, Any]) -> int:
        """Apply one message from the browser; a bad one is kept in `error` instead of raising in the kernel."""
        try:
            changed = apply_message(self.label_map, content)
        except (KeyError, TypeError, ValueError) as error:
            self.error = f"{type(error).__name__}: {error}"
            return 0
        if changed:
            self.show()
        return changed


class Painter(ipywidgets.VBox):
    """GauGAN in a notebook: paint classes on the left, the generator's picture appears on the right."""

    def __init__(self, generator: nn.Module, dataset: Any = None, encoder: nn.Module | None = None,
                 class_names: Sequence[str] | None = None, palette: Sequence[Sequence[int]] | None = None,
                 device: str | torch.device | None = None, scale: int = 4, interval: float = 0.2,
                 seed: int = 0, contain_dontcare_label: bool = False, no_instance: bool = True) -> None:
        class_names = list(class_names if class_names is not None else getattr(dataset, "class_names", []))
        palette = list(palette if palette is not None else getattr(dataset, "palette", []))
        if not class_names or len(palette) != len(class_names):
            raise ValueError("Painter: pass a dataset (with class_names and palette) or class_names= and palette= "
                             "of equal length")
        palette = check_palette(palette, len(class_names), "Painter")
        check_scale(scale, "Painter")
        channels = semantic_nc(len(class_names), contain_dontcare_label, no_instance)
        if channels != generator.semantic_nc:
            raise ValueError(f"Painter: {len(class_names)} classes make {channels} input channels "
                             f"(contain_dontcare_label={contain_dontcare_label}, no_instance={no_instance}) but the "
                             f"generator reads semantic_nc={generator.semantic_nc}; pass the dataset it was trained on "
                             f"and **input_options(nets.config) (spade_lesson.layers.semantic_input)")
        self.options = {"contain_dontcare_label": contain_dontcare_label, "no_instance": no_instance}
        if encoder is not None and not generator.use_vae:
            raise ValueError("Painter: an encoder was given but the generator has use_vae=False (it takes no style)")
        self.device = pick_device(str(device)) if device is not None else next(generator.parameters()).device
        self.generator = generator.to(self.device).eval()
        self.encoder = encoder.to(self.device).eval() if encoder is not None else None
        self.dataset, self.class_names, self.palette = dataset, class_names, palette
        height, width = generator.output_size
        self.labels = LabelMap(height, width, len(class_names))
        if dataset is not None:
            first = dataset[0]["label"]
            if tuple(first.shape) != (height, width):
                raise ValueError(f"Painter: the dataset's label maps are {tuple(first.shape)}, the generator makes "
                                 f"{(height, width)} images; load the dataset at the generator's size")
            self.labels = LabelMap.from_array(first, len(class_names))
        self.z = self.style_from_seed(seed) if generator.use_vae else None
        self.renders = 0
        self.debouncer = Debouncer(self._render_quietly, interval)

        self.canvas = LabelCanvas(self.labels, palette, scale=scale)
        self.picture = ipywidgets.Image(format="png", width=width * scale, height=height * scale)
        self.picture.add_class("spade-painter-picture")
        self.status = ipywidgets.Label()
        self.class_buttons = [self._class_button(i) for i in range(len(class_names))]
        self.select_class(0)
        self.brush = ipywidgets.IntSlider(value=max(1, width // 16), min=1, max=max(2, width // 4),
                                          description="brush size", style={"description_width": "initial"})
        self.tool = ipywidgets.ToggleButtons(options=list(TOOLS), value="brush",
                                             tooltips=["paint a round brush along the drag",
                                                       "fill the 4-connected region you click"],
                                             style={"button_width": "70px"})
        ipywidgets.link((self.brush, "value"), (self.canvas, "brush_size"))
        ipywidgets.link((self.tool, "value"), (self.canvas, "tool"))
        undo = ipywidgets.Button(description="undo", icon="undo")
        undo.on_click(lambda _: self.undo())
        clear = ipywidgets.Button(description="clear", icon="eraser")
        clear.on_click(lambda _: self.clear())
        rows = [ipywidgets.HBox(self.class_buttons, layout=ipywidgets.Layout(flex_flow="row wrap")),
                ipywidgets.HBox([self.tool, self.brush, undo, clear], layout=ipywidgets.Layout(flex_flow="row wrap")),
                ipywidgets.HBox([self.canvas, self.picture])]
        rows += self._dataset_row() + self._style_row() + [self.status]
        super().__init__(rows)
        self.canvas.edited.append(self.debouncer.request)
        self.render_once()

    def _class_button(self, class_id: int) -> ipywidgets.Button:
        """One legend entry: a button in the class' colour that picks it."""
        rgb = self.palette[class_id]
        button = ipywidgets.Button(description=self.class_names[class_id], tooltip=f"class {class_id}",
                                   layout=ipywidgets.Layout(width="auto"))
        button.style.button_color = "#{:02x}{:02x}{:02x}".format(*rgb)
        if "text_color" in button.style.keys:  # ipywidgets 8 (7.7 keeps its default text colour)
            button.style.text_color = text_colour(rgb)
        button.on_click(lambda _: self.select_class(class_id))
        return button

    def _dataset_row(self) -> list[ipywidgets.Widget]:
        """Controls to start from a dataset's label map (and take the style of its image), if there is a dataset."""
        if self.dataset is None:
            return []
        self.index = ipywidgets.BoundedIntText(value=0, min=0, max=len(self.dataset) - 1, description="index",
                                               layout=ipywidgets.Layout(width="160px"))
        load = ipywidgets.Button(description="start from this label map", layout=ipywidgets.Layout(width="auto"))
        load.on_click(lambda _: self.load_label(self.index.value))
        row: list[ipywidgets.Widget] = [self.index, load]
        if self.encoder is not None:
            from_image = ipywidgets.Button(description="style from this image", layout=ipywidgets.Layout(width="auto"))
            from_image.on_click(lambda _: self.use_image_style(self.index.value))
            row.append(from_image)
        thumbnail = ipywidgets.Image(format="png", width=64, height=64)
        thumbnail.value = image_png(self.dataset[0]["image"])
        self.index.observe(lambda change: setattr(thumbnail, "value", image_png(self.dataset[change["new"]]["image"])),
                           names="value")
        return [ipywidgets.HBox(row + [thumbnail])]

    def _style_row(self) -> list[ipywidgets.Widget]:
        """Style controls: a seed and a button for a new random style z (generators with use_vae only)."""
        if not self.generator.use_vae:
            return []
        self.seed = ipywidgets.BoundedIntText(value=0, min=0, max=SEED_LIMIT - 1, description="style seed",
                                              layout=ipywidgets.Layout(width="180px"))
        self.seed.observe(lambda change: self._use_seed_quietly(change["new"]), names="value")
        random_style = ipywidgets.Button(description="random style", icon="random")
        random_style.on_click(lambda _: setattr(self.seed, "value", self.seed.value + 1))
        return [ipywidgets.HBox([random_style, self.seed])]

    def select_class(self, class_id: int) -> None:
        """Paint with class_id from now on (its legend button is ticked)."""
        self.labels.check_class(class_id)
        self.canvas.class_id = class_id
        for i, button in enumerate(self.class_buttons):
            button.description = ("\u2713 " if i == class_id else "") + self.class_names[i]

    def undo(self) -> None:
        """Undo the last edit."""
        if self.labels.undo():
            self.canvas.show()

    def clear(self) -> None:
        """Paint the whole map with the selected class."""
        if self.labels.clear(self.canvas.class_id):
            self.canvas.show()

    def set_map(self, label: np.ndarray | torch.Tensor) -> None:
        """Replace the map with `label` (H, W) class ids (undoable)."""
        self.labels.load(label)
        self.canvas.show()

    def load_label(self, index: int) -> None:
        """Replace the map with the dataset's label map number `index` (undoable)."""
        self.set_map(self.dataset[index]["label"])

    def style_from_seed(self, seed: int) -> torch.Tensor:
        """The style code z (1, z_dim) ~ N(0, I) drawn from `seed` (the same seed, the same style)."""
        noise = torch.Generator().manual_seed(check_seed(seed, "Painter: style seed"))
        return torch.randn(1, self.generator.z_dim, generator=noise).to(self.device)

    @torch.no_grad()
    def style_from_image(self, image: torch.Tensor) -> torch.Tensor:
        """image: (3, H, W) in [-1, 1] -> its style code z (1, z_dim): the encoder's mean mu."""
        if self.encoder is None:
            raise ValueError("Painter: no encoder was given; pass encoder= to take a style from an image")
        mu, _ = self.encoder(image[None].to(self.device))
        return mu

    def use_seed(self, seed: int) -> None:
        """Switch to the random style of `seed` and re-render."""
        self.z = self.style_from_seed(seed)
        self.debouncer.request()

    def _use_seed_quietly(self, seed: int) -> None:
        """The seed box's callback: a seed that cannot seed shows in the status line, not inside the event loop."""
        try:
            self.use_seed(seed)
        except ValueError as error:
            self.status.value = str(error)

    def use_image_style(self, index: int) -> None:
        """Switch to the style of the dataset's image number `index` and re-render."""
        self.z = self.style_from_image(self.dataset[index]["image"])
        self.debouncer.request()

    @torch.no_grad()
    def generate(self, label: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """label: (H, W) class ids -> image (3, H, W) in [-1, 1]: m built as training built it (semantic_input; edges
        of the painted classes where the run used instance maps), then the generator (eval, no grad)."""
        semantic = semantic_input(label[None].to(self.device), len(self.class_names), **self.options)  # (1, C, H, W)
        return self.generator(semantic, z)[0]

    def render_once(self) -> torch.Tensor:
        """Render the current map in the current style now; shows it and returns it (3, H, W) in [-1, 1] on the CPU."""
        start = time.perf_counter()
        try:
            image = self.generate(self.labels.to_torch(), self.z).cpu()
        except Exception as error:
            self.status.value = f"render failed: {type(error).__name__}: {error}"
            raise
        self.picture.value = image_png(image)
        self.renders += 1
        problem = f" | last canvas message refused: {self.canvas.error}" if self.canvas.error else ""
        self.status.value = f"render {self.renders}: {1000 * (time.perf_counter() - start):.0f} ms{problem}"
        return image

    def _render_quietly(self) -> None:
        """The debounced render: a failure is shown in the status line, not raised inside the kernel's event loop."""
        with contextlib.suppress(Exception):
            self.render_once()

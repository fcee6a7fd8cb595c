"""Draw docs/landscapes.png: Landscapes label maps above their images, then one label map in several global styles.

Run: python scripts/make_readme_grid.py   (or --out elsewhere, --size for bigger tiles)
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from PIL import Image

from spade_lesson.data import Landscapes, colorize
from spade_lesson.runtime.atomic import atomic_write

SCENES = (7, 10, 25, 32, 43, 1)  # items picked to show the range: forests, desert, lakes, snow, dusk
STYLED = 44  # the item whose label map is painted in every style of the last row
STYLES = ((1, "day"), (21, "golden hour"), (3, "dusk"), (5, "night"), (30, "day"))  # (style number, time of day)
COLOURS = 256  # the PNG is quantized (with dithering) to this many colours to stay small


def image_of(tensor: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8 array for imshow."""
    return ((tensor.permute(1, 2, 0) + 1.0) * 127.5).round().clamp(0, 255).byte().numpy()


def draw(dataset: Landscapes) -> Figure:
    """The figure: label maps, their images, and one label map in several styles, with a class legend on top."""
    columns = len(SCENES)
    figure = Figure(figsize=(2.0 * columns, 6.9), dpi=100)
    axes = figure.subplots(3, columns)
    for column, index in enumerate(SCENES):
        item = dataset[index]
        axes[0, column].imshow(colorize(item["label"], dataset.palette).numpy())
        axes[1, column].imshow(image_of(item["image"]))
    styled = dataset[STYLED]
    axes[2, 0].imshow(colorize(styled["label"], dataset.palette).numpy())
    axes[2, 0].set_title("one label map", fontsize=9)
    for column, (style, time_of_day) in enumerate(STYLES, start=1):
        axes[2, column].imshow(image_of(dataset.render(STYLED, style=style, time_of_day=time_of_day)["image"]))
        axes[2, column].set_title(f"style {style}: {time_of_day}", fontsize=9)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    axes[0, 0].set_ylabel("label maps", fontsize=10)
    axes[1, 0].set_ylabel("images", fontsize=10)
    axes[2, 0].set_ylabel("many styles", fontsize=10)
    handles = [Patch(facecolor=[c / 255 for c in color], edgecolor="black", linewidth=0.5, label=name)
               for name, color in zip(dataset.class_names, dataset.palette)]
    size = f"{dataset.size}x{dataset.size}"
    figure.suptitle(f"Landscapes: procedural label maps and the images painted from them ({size})", y=0.995,
                    fontsize=11)
    figure.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=9, frameon=False,
                  handlelength=1.2, columnspacing=1.0, bbox_to_anchor=(0.5, 0.965))
    figure.subplots_adjust(left=0.03, right=0.99, bottom=0.01, top=0.915, wspace=0.04, hspace=0.12)
    return figure


def save_png(figure: Figure, path: Path) -> None:
    """Render the figure, quantize it to a small palette PNG, write it atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    picture = Image.open(buffer).convert("RGB").quantize(colors=COLOURS, dither=Image.Dither.FLOYDSTEINBERG)
    with atomic_write(path) as file:
        picture.save(file, format="png", optimize=True)


def main(argv: list[str] | None = None) -> int:
    """Draw the grid and write it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "landscapes.png")
    parser.add_argument("--size", type=int, default=192, help="tile size in pixels (32..512)")
    args = parser.parse_args(argv)
    figure = draw(Landscapes(size=args.size))
    save_png(figure, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

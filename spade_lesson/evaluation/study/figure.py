"""The study's figure: each score against training steps per variant (mean over seeds, the seeds' range as a band),
the controls as horizontal lines (real images: the judges' ceiling band for mIoU and KID's floor; the flat and blurred
painters), and below, the same validation maps drawn by every variant at every budget (seed 0), so that SPADE's
early squares can be watched turning into landscapes.

`write_figure(document, results, val_data, path)`.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from spade_lesson.data import colorize, to_uint8
from spade_lesson.evaluation.study.claims import budgets, calibration
from spade_lesson.runtime.atomic import atomic_write

SAMPLE_SEED = 0
CONTROL_STYLE = {"flat painter": ("tab:gray", "--"), "blurred painter": ("tab:gray", ":")}


def _per_seed(document: dict[str, Any], model: str, metric: str) -> dict[int, list[tuple[int, float]]]:
    """seed -> [(steps, metric averaged over judges)] of one model."""
    curves: dict[int, list[tuple[int, float]]] = {}
    for steps in budgets(document):
        runs = [r for r in document["runs"] if r["model"] == model and r["steps"] == steps]
        for seed in sorted({r["seed"] for r in runs}):
            curves.setdefault(seed, []).append((steps, statistics.fmean(r[metric] for r in runs if r["seed"] == seed)))
    return curves


def _curves(ax: Any, document: dict[str, Any], metric: str) -> None:
    """One metric against steps: each variant's mean over seeds with the seeds' range, and the controls."""
    controls = calibration(document)
    real = [r[metric] for r in document["calibration"] if r["row"] == "real images"]
    if metric == "miou":
        ax.axhspan(min(real), max(real), color="0.8", label="real images (judges' range)")
    else:
        ax.axhline(statistics.fmean(real), color="0.5", linewidth=3, alpha=0.5, label="real vs real (the floor)")
    for name, (colour, style) in CONTROL_STYLE.items():
        if name in controls:
            ax.axhline(controls[name][metric].mean, color=colour, linestyle=style, linewidth=1, label=name)
    for index, model in enumerate(dict.fromkeys(r["model"] for r in document["runs"])):
        curves = _per_seed(document, model, metric)
        steps = sorted({s for curve in curves.values() for s, _ in curve})
        values = {s: [v for curve in curves.values() for t, v in curve if t == s] for s in steps}
        colour = f"C{index}"
        ax.plot(steps, [statistics.fmean(values[s]) for s in steps], "o-", color=colour, markersize=3, linewidth=1.2,
                label=f"{model} ({len(curves)} seed{'s' * (len(curves) > 1)})")
        ax.fill_between(steps, [min(values[s]) for s in steps], [max(values[s]) for s in steps], color=colour,
                        alpha=0.15, linewidth=0)
    ax.set_xscale("log")
    ax.set_xticks(document["settings"]["budgets"], [str(b) for b in document["settings"]["budgets"]], fontsize=7)
    ax.minorticks_off()
    ax.set_xlabel("GAN steps (one run per seed, scored at each)", fontsize=8)
    if metric == "miou":
        ax.set_ylabel("mIoU, judges averaged (higher: layout followed)", fontsize=8)
    else:
        ax.set_yscale("symlog", linthresh=1)
        ax.set_ylabel("KID x 1000 in the judges' features (lower: more real)", fontsize=8)
    ax.tick_params(labelsize=7)


def write_figure(document: dict[str, Any], results: Path, val_data: Dataset, path: Path) -> None:
    """Draw the curves and the samples (read from <results folder>/samples/) to path, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spade_lesson.evaluation.study.runner import SAMPLE_MAPS, sample_path

    steps = document["settings"]["budgets"]
    models = [m for m in dict.fromkeys(r["model"] for r in document["runs"])
              if any(sample_path(results, m, SAMPLE_SEED, s).is_file() for s in steps)]
    height = 4.2 + 0.95 * (len(models) + 1)  # inches: the curves, then a row of pictures per model
    figure = plt.figure(figsize=(11, height), dpi=90)
    grid = figure.add_gridspec(2, 1, height_ratios=[4.2, height - 4.2], hspace=0.25, top=1 - 0.5 / height,
                               bottom=0.02)  # the curves just under the title
    top = grid[0].subgridspec(1, 2, wspace=0.25)
    for column, metric in enumerate(("miou", "kid")):
        ax = figure.add_subplot(top[0, column])
        _curves(ax, document, metric)
        if column == 0:
            ax.legend(fontsize=6, loc="lower right", ncol=2)
    images = grid[1].subgridspec(len(models) + 1, len(steps) + 1, wspace=0.04, hspace=0.4)
    maps = min(SAMPLE_MAPS, len(val_data))
    strip = lambda pictures: torch.cat(list(pictures), dim=1).numpy()  # noqa: E731 (pictures side by side)
    first = [val_data[i] for i in range(maps)]
    header = [strip(colorize(item["label"], val_data.palette) for item in first),
              strip(to_uint8(item["image"]) for item in first)]
    cells = [[None, *header]] + [[model, *[sample_path(results, model, SAMPLE_SEED, s) for s in steps]]
                                 for model in models]
    titles = ["label maps", "real images"] + [f"{s} steps" for s in steps]
    for r, row in enumerate(cells):
        for c in range(len(steps) + 1):
            ax = figure.add_subplot(images[r, c])
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if r == 0 and c in (1, 2):
                ax.imshow(header[c - 1])
                ax.set_title(titles[c - 1], fontsize=7)
            elif r > 0 and c > 0 and row[c].is_file():
                ax.imshow(plt.imread(row[c]))
                if r == 1:
                    ax.set_title(titles[c + 1], fontsize=7)
            elif r > 0 and c == 0:
                ax.text(1, 0.5, row[0], ha="right", va="center", fontsize=8, transform=ax.transAxes)
    settings = document["settings"]
    figure.suptitle(f"{settings['dataset']} at {document['training']['size']} px: every variant, one run per seed "
                    f"scored at each budget by {len(document['judges'])} judges; pictures: seed {SAMPLE_SEED}",
                    fontsize=9, y=0.995)
    try:
        with atomic_write(path, "wb") as file:
            figure.savefig(file, format="png", bbox_inches="tight")
    finally:
        plt.close(figure)

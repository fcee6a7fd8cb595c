"""The study's judges: U-Nets trained on the real training images (spade_lesson.evaluation.segmenter), one per seed,
kept beside the results (<results folder>/judges/segmenter-<key>.pt, shipped with the package) with the curve of their
real-image validation mIoU during training (curve-seed<N>.json), which shows whether they had converged.

`judge_path`, `load_judges(...)` (trained where missing, with their curve), `curve(path)`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from spade_lesson.evaluation.segmenter import (
    SegmenterConfig,
    UNet,
    ceiling,
    dataset_fingerprint,
    fit,
    load_segmenter,
    save_segmenter,
    segmenter_file,
)
from spade_lesson.runtime.atomic import write_text

JUDGES = "judges"  # folder beside the results holding the judges' weights and curves
CURVE_EVERY = 250  # steps between two points of a judge's training curve
CURVE_IMAGES = 128  # validation images each curve point scores


def judge_path(results: Path, train_data: Dataset, steps: int, seed: int) -> Path:
    """Where the judge of this seed is kept: <results folder>/judges/segmenter-<key of its settings>.pt."""
    return segmenter_file(train_data, steps, results.parent / JUDGES, seed=seed)


def curve_path(results: Path, seed: int) -> Path:
    """<results folder>/judges/curve-seed<N>.json: [{"step", "miou", "pixel_acc", "seconds"}, ...]."""
    return results.parent / JUDGES / f"curve-seed{seed}.json"


def train_judge(train_data: Dataset, val_data: Dataset, steps: int, seed: int, path: Path, curve: Path,
                device: torch.device, progress: bool) -> UNet:
    """Train one judge as train_segmenter does (same settings, same key), scoring the real validation images every
    CURVE_EVERY steps into `curve`; weights written to `path`."""
    config = SegmenterConfig(dataset_fingerprint(train_data), train_data.num_classes, steps, 16, 16, 3, 2e-3, seed)
    torch.manual_seed(seed)
    model = UNet(3, config.num_classes, config.width, config.depth).to(device)
    points: list[dict[str, Any]] = []
    started = time.perf_counter()

    def record(step: int, judge: UNet) -> None:
        """One point of the curve, written at once."""
        scores = ceiling(val_data, judge, num_images=CURVE_IMAGES)
        points.append({"step": step, "miou": scores["miou"], "pixel_acc": scores["pixel_acc"],
                       "seconds": round(time.perf_counter() - started, 1)})
        write_text(curve, json.dumps(points, indent=1) + "\n")

    fit(model, train_data, config, device, progress, every=CURVE_EVERY, on_step=record)
    save_segmenter(model, config, path)
    return model.eval()


def load_judges(results: Path, seeds: tuple[int, ...], steps: int, train_data: Dataset, val_data: Dataset,
                device: torch.device, progress: bool) -> dict[int, UNet]:
    """The judges by seed, loaded from beside the results or trained there (with their curves) where missing."""
    judges = {}
    for seed in seeds:
        path = judge_path(results, train_data, steps, seed)
        if path.is_file():
            judges[seed] = load_segmenter(path, device)
        else:
            judges[seed] = train_judge(train_data, val_data, steps, seed, path, curve_path(results, seed), device,
                                       progress)
    return judges


def judge_records(results: Path, seeds: tuple[int, ...], steps: int, train_data: Dataset) -> list[dict[str, Any]]:
    """What the results file says of each judge: its seed, training steps, and its files relative to the results."""
    records = []
    for seed in seeds:
        record = {"seed": seed, "steps": steps,
                  "weights": judge_path(results, train_data, steps, seed).relative_to(results.parent).as_posix()}
        if curve_path(results, seed).is_file():
            record["curve"] = curve_path(results, seed).relative_to(results.parent).as_posix()
        records.append(record)
    return records


def curve(results: Path, record: dict[str, Any]) -> list[dict[str, Any]]:
    """A judge's training curve (the real validation images' mIoU every CURVE_EVERY steps), [] where none is kept."""
    if "curve" not in record:
        return []
    return json.loads((results.parent / record["curve"]).read_text())

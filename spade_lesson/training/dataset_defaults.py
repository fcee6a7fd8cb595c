"""The official options of each dataset the paper trained on (SPADE's data/*_dataset.py modify_commandline_options),
taken as defaults when a run's data is that dataset: an official folder layout, or the prepared dataset of that name.

label_nc needs no default: the layout names its classes (182, 150, 35). Every value stays overridable by its flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spade_lesson.data.errors import DatasetError
from spade_lesson.data.pairs import detect_layout

# TrainConfig field -> the official value; flips are the official default (no_flip off) for every real dataset
OFFICIAL_DEFAULTS: dict[str, dict[str, Any]] = {
    "cocostuff": {"contain_dontcare_label": True, "no_instance": False, "preprocess_mode": "resize_and_crop",
                  "load_size": 286, "size": 256, "flip": True},
    "ade20k": {"contain_dontcare_label": True, "no_instance": True, "preprocess_mode": "resize_and_crop",
               "load_size": 286, "size": 256, "flip": True},
    "cityscapes": {"no_instance": False, "preprocess_mode": "fixed", "load_size": 512, "size": 512,
                   "aspect_ratio": 2.0, "num_upsampling_layers": "more", "flip": True},
}
NAMES = {"cocostuff": "COCO-Stuff", "ade20k": "ADE20K", "cityscapes": "Cityscapes"}


def official_dataset(dataset: str, data_root: str) -> tuple[str, str] | None:
    """(official dataset, where that was read) for a prepared dataset of that name or a folder in its layout; None
    for anything else (Landscapes, facades, our own folder layout, a path that is not a folder)."""
    if dataset in OFFICIAL_DEFAULTS:
        return dataset, f"the prepared {dataset} dataset in {Path(data_root) / dataset}"
    if dataset in ("landscapes", "facades", "ade20k-outdoor") or not Path(dataset).is_dir():
        return None
    try:
        layout = detect_layout(Path(dataset))
    except (DatasetError, OSError):
        return None  # no single layout: loading the data says why, in its own words
    return (layout, f"the {NAMES[layout]} layout of {dataset}") if layout in OFFICIAL_DEFAULTS else None


def with_dataset_defaults(overrides: dict[str, Any], data_root: str) -> tuple[dict[str, Any], str | None]:
    """overrides with the official defaults of its dataset under them (what a flag gave wins), and the one line
    saying which defaults were taken and from where (None when the dataset has none)."""
    found = official_dataset(str(overrides.get("dataset", "landscapes")), data_root)
    if found is None:
        return overrides, None
    name, where = found
    taken = {key: value for key, value in OFFICIAL_DEFAULTS[name].items() if key not in overrides}
    kept = sorted(set(OFFICIAL_DEFAULTS[name]) - set(taken))
    shown = ", ".join(f"{key}={value}" for key, value in taken.items()) or "none"
    line = (f"official {NAMES[name]} defaults from {where}: {shown}"
            + (f" (your flags kept: {', '.join(kept)})" if kept else ""))
    return {**taken, **overrides}, line

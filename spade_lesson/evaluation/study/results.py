"""The study's results file: one JSON document, rewritten atomically after every finished record, so a study stopped
anywhere resumes from it (on this machine or on a fresh checkout of the committed file).

document = {"settings": AblationConfig.settings(), "training": the runs' TrainConfig settings, "judges": [one per judge
seed: its ceiling and weights], "calibration": [the controls' rows], "runs": [one record per (model, seed, steps,
judge_seed)], and where it ran (torch, machine)}. A record: {"model", "seed", "steps", "judge_seed", "miou",
"accuracy", "kid", "class_iou", "params", "norm_macs", "seconds", "device"}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spade_lesson.evaluation.results_check import read_results_document
from spade_lesson.evaluation.study.config import COMMITTED, MODELS, AblationConfig
from spade_lesson.runtime.atomic import atomic_write

RUN_KEY = ("model", "seed", "steps", "judge_seed")  # what one record scores
CALIBRATION_KEY = ("row", "judge_seed")


def new_document(config: AblationConfig) -> dict[str, Any]:
    """An empty results document for this study."""
    return {"settings": config.settings(), "training": config.training(), "judges": [], "calibration": [], "runs": []}


def load_results(path: str | Path = COMMITTED, config: AblationConfig | None = None) -> dict[str, Any]:
    """A results document (default: the committed one); with config, checked to be that study's (one-line errors)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no study results there; run `spade-lesson ablate` first")
    document = read_results_document(path, MODELS)  # bounded, every field checked
    if config is not None:
        for part, wanted in (("settings", config.settings()), ("training", config.training())):
            saved = document[part]
            changed = [name for name in sorted(set(saved) | set(wanted)) if saved.get(name) != wanted.get(name)]
            if changed:
                name = changed[0]
                raise ValueError(f"{path} was made with {name}={saved.get(name)!r}, this study asks "
                                 f"{name}={wanted.get(name)!r}: use the same settings to resume, or another --results")
    return document


def write_results(document: dict[str, Any], path: str | Path) -> None:
    """Write the document as indented JSON, atomically (temp file + rename)."""
    with atomic_write(path, "w") as file:
        json.dump(document, file, indent=1)
        file.write("\n")


def key(record: dict[str, Any], names: tuple[str, ...] = RUN_KEY) -> tuple:
    """The record's identity."""
    return tuple(record[name] for name in names)


def add_records(document: dict[str, Any], part: str, records: list[dict[str, Any]], path: str | Path) -> None:
    """Put records into document[part] (replacing any with the same key), write the document at once."""
    names = RUN_KEY if part == "runs" else CALIBRATION_KEY
    kept = {key(record, names): record for record in document[part]}
    kept.update({key(record, names): record for record in records})
    document[part] = list(kept.values())
    write_results(document, path)


def scored(document: dict[str, Any], model: str, seed: int, steps: int) -> set[int]:
    """The judge seeds that already scored (model, seed) at this budget."""
    return {run["judge_seed"] for run in document["runs"] if (run["model"], run["seed"], run["steps"]) ==
            (model, seed, steps)}

"""An ablation results file, read with bounds and checked field by field before anything trusts it.

`read_results_document(path, settings, models)` reads the JSON `spade-lesson ablate` writes (a regular file of at most
MAX_BYTES; a FIFO, a device, deep nesting are refused) and `check_results_document` checks its shape: every problem is
one ValueError naming the file, the field and the fix. `check_judge_file` holds a judge's weights to the judges/
folder beside the results, as a regular file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MAX_BYTES = 64 * 2**20  # a results file of 10^5 runs is about 20 MB
JUDGE_WEIGHTS = re.compile(r"judges/segmenter-[0-9a-f]{16}\.pt")  # what the ablation names a judge's file
RUN_FIELDS = {"model": str, "seed": int, "judge_seed": int, "miou": float, "accuracy": float, "params": int,
              "norm_macs": int}
JUDGE_FIELDS = {"seed": int, "ceiling_miou": float, "ceiling_accuracy": float, "weights": str}


def regular_file(path: Path, what: str, fix: str) -> Path:
    """path when it is a regular file (not a FIFO, a device or a folder, which would hang or mislead a reader)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no {what} there; {fix}")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file (a folder, FIFO or device), so not a {what}; {fix}")
    return path


def read_results_document(path: str | Path, settings: Iterable[str], models: Iterable[str]) -> dict[str, Any]:
    """The checked results document at path."""
    path = regular_file(Path(path), "results file", "pass the JSON `spade-lesson ablate` wrote")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size} bytes, more than a results file's {MAX_BYTES}; pass the "
                         f"JSON `spade-lesson ablate` wrote")
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{path}: not JSON ({type(error).__name__}); pass the JSON `spade-lesson ablate` wrote, or "
                         f"restore it with git checkout") from None
    return check_results_document(document, path, settings, models)


def _number(value: Any, kind: type) -> bool:
    """value is a kind (int: not a bool; float: an int or float, finite)."""
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, kind)


def _check_record(record: Any, fields: dict[str, type], where: str) -> None:
    """record is a dict with each of fields, of its type (fractions in [0, 1], counts >= 0)."""
    if not isinstance(record, dict):
        raise ValueError(f"{where} is a {type(record).__name__}, not an object with {', '.join(fields)}")
    for name, kind in fields.items():
        if name not in record:
            raise ValueError(f"{where} has no {name!r}")
        value = record[name]
        if not _number(value, kind):
            raise ValueError(f"{where}: {name}={value!r} is not a{' finite' if kind is float else 'n'} "
                             f"{'number' if kind is float else kind.__name__}")
        if kind is float and not 0.0 <= value <= 1.0:
            raise ValueError(f"{where}: {name}={value!r} is outside [0, 1]")
        if kind is int and value < 0:
            raise ValueError(f"{where}: {name}={value!r} is negative")


def check_results_document(document: Any, path: Path, settings: Iterable[str],
                           models: Iterable[str]) -> dict[str, Any]:
    """document when it has the shape `spade-lesson ablate` writes: {"settings": exactly those fields, "judges": [{seed,
    ceiling_miou, ceiling_accuracy, weights}], "runs": [{model, seed, judge_seed, miou, accuracy, params,
    norm_macs}]}; else a one-line ValueError naming path and the field."""
    fix = "restore it (git checkout) or regenerate it with `spade-lesson ablate`"
    try:
        if not isinstance(document, dict):
            raise ValueError(f"the document is a {type(document).__name__}, not an object")
        for key, kind in (("settings", dict), ("judges", list), ("runs", list)):
            if not isinstance(document.get(key), kind):
                raise ValueError(f"{key!r} is {'missing' if key not in document else type(document[key]).__name__}, "
                                 f"not a{'n object' if kind is dict else ' list'}")
        names = tuple(settings)
        given = document["settings"]
        if set(given) != set(names):
            odd = sorted(set(given) ^ set(names))
            raise ValueError(f"settings has {'unknown' if set(odd) - set(names) else 'missing'} fields {odd}")
        for name in names:
            value = given[name]
            good = isinstance(value, str) and value != "" if name == "dataset" else _number(value, int) and value >= 1
            if not good:
                wanted = "a dataset name" if name == "dataset" else "a positive int"
                raise ValueError(f"settings: {name}={value!r} is not {wanted}")
        seeds = []
        for k, judge in enumerate(document["judges"]):
            _check_record(judge, JUDGE_FIELDS, f"judges[{k}]")
            if not JUDGE_WEIGHTS.fullmatch(judge["weights"]):
                raise ValueError(f"judges[{k}]: weights={judge['weights']!r} is not a judges/segmenter-<key>.pt "
                                 f"beside the results")
            seeds.append(judge["seed"])
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"judges: seed listed twice ({seeds})")
        known = set(models)
        for k, run in enumerate(document["runs"]):
            _check_record(run, RUN_FIELDS, f"runs[{k}]")
            if run["model"] not in known:
                raise ValueError(f"runs[{k}]: model={run['model']!r} is none of {', '.join(sorted(known))}")
            if run["judge_seed"] not in seeds:
                raise ValueError(f"runs[{k}]: judge_seed={run['judge_seed']} is none of the judges' seeds {seeds}")
    except ValueError as error:
        raise ValueError(f"{path}: not an ablation results file: {error}; {fix}") from None
    return document


def check_judge_file(results: Path, weights: str) -> Path:
    """The judge's weights file named in results (judges/segmenter-<key>.pt beside it), as a regular file."""
    if not JUDGE_WEIGHTS.fullmatch(weights):
        raise ValueError(f"{results}: judge weights {weights!r} are not judges/segmenter-<key>.pt beside it; restore "
                         f"the file (git checkout)")
    return regular_file(results.parent / weights, "judge's weights",
                        f"restore the judges/ folder beside {results.name}, or regenerate with `spade-lesson ablate`")

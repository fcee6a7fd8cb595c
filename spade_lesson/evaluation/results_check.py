"""The study's results file, read with bounds and checked field by field before anything trusts it.

`read_results_document(path, models)` reads the JSON `spade-lesson ablate` writes (a regular file of at most
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

MAX_BYTES = 64 * 2**20  # a results file of 10^5 records is about 40 MB
JUDGE_WEIGHTS = re.compile(r"judges/segmenter-[0-9a-f]{16}\.pt")  # what the study names a judge's file
JUDGE_CURVE = re.compile(r"judges/curve-seed[0-9]+\.json")
FRACTION, REAL = "fraction", "real"  # a number in [0, 1]; any finite number (KID can be negative)
RUN_FIELDS = {"model": str, "seed": int, "steps": int, "judge_seed": int, "miou": FRACTION, "accuracy": FRACTION,
              "kid": REAL, "params": int, "norm_macs": int}
CALIBRATION_FIELDS = {"row": str, "judge_seed": int, "miou": FRACTION, "accuracy": FRACTION, "kid": REAL}
JUDGE_FIELDS = {"seed": int, "steps": int, "weights": str}
SETTINGS = ("dataset", "budgets", "eval_images", "segmenter_steps")


def regular_file(path: Path, what: str, fix: str) -> Path:
    """path when it is a regular file (not a FIFO, a device or a folder, which would hang or mislead a reader)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no {what} there; {fix}")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file (a folder, FIFO or device), so not a {what}; {fix}")
    return path


def read_results_document(path: str | Path, models: Iterable[str]) -> dict[str, Any]:
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
    return check_results_document(document, path, models)


def _number(value: Any, kind: Any) -> bool:
    """value is a kind (int: not a bool; FRACTION, REAL: an int or float, finite)."""
    if isinstance(value, bool):
        return False
    if kind in (FRACTION, REAL):
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, kind)


def _check_record(record: Any, fields: dict[str, Any], where: str) -> None:
    """record is a dict with each of fields, of its type (fractions in [0, 1], counts >= 0)."""
    if not isinstance(record, dict):
        raise ValueError(f"{where} is a {type(record).__name__}, not an object with {', '.join(fields)}")
    for name, kind in fields.items():
        if name not in record:
            raise ValueError(f"{where} has no {name!r}")
        value = record[name]
        if not _number(value, kind):
            number = kind in (FRACTION, REAL)
            raise ValueError(f"{where}: {name}={value!r} is not a{' finite' if number else 'n'} "
                             f"{'number' if number else kind.__name__}")
        if kind is FRACTION and not 0.0 <= value <= 1.0:
            raise ValueError(f"{where}: {name}={value!r} is outside [0, 1]")
        if kind is int and value < 0:
            raise ValueError(f"{where}: {name}={value!r} is negative")


def _check_settings(given: dict[str, Any]) -> None:
    """settings holds exactly SETTINGS: a dataset name, increasing positive budgets, positive counts."""
    if set(given) != set(SETTINGS):
        odd = sorted(set(given) ^ set(SETTINGS))
        raise ValueError(f"settings has {'unknown' if set(odd) - set(SETTINGS) else 'missing'} fields {odd}")
    for name in SETTINGS:
        value = given[name]
        if name == "dataset":
            good, wanted = isinstance(value, str) and value != "", "a dataset name"
        elif name == "budgets":
            good = isinstance(value, list) and value and all(_number(v, int) and v >= 1 for v in value) and \
                value == sorted(set(value))
            wanted = "a list of increasing positive ints"
        else:
            good, wanted = _number(value, int) and value >= 1, "a positive int"
        if not good:
            raise ValueError(f"settings: {name}={value!r} is not {wanted}")


def check_results_document(document: Any, path: Path, models: Iterable[str]) -> dict[str, Any]:
    """document when it has the shape `spade-lesson ablate` writes (spade_lesson.evaluation.study.results): settings,
    training, judges [{seed, steps, weights}], calibration [{row, judge_seed, miou, accuracy, kid}], runs [{model,
    seed, steps, judge_seed, miou, accuracy, kid, params, norm_macs}]; else a one-line ValueError naming path and the
    field."""
    fix = "restore it (git checkout) or regenerate it with `spade-lesson ablate`"
    try:
        if not isinstance(document, dict):
            raise ValueError(f"the document is a {type(document).__name__}, not an object")
        for key, kind in (("settings", dict), ("training", dict), ("judges", list), ("calibration", list),
                          ("runs", list)):
            if not isinstance(document.get(key), kind):
                raise ValueError(f"{key!r} is {'missing' if key not in document else type(document[key]).__name__}, "
                                 f"not a{'n object' if kind is dict else ' list'}")
        _check_settings(document["settings"])
        seeds = []
        for k, judge in enumerate(document["judges"]):
            _check_record(judge, JUDGE_FIELDS, f"judges[{k}]")
            if not JUDGE_WEIGHTS.fullmatch(judge["weights"]):
                raise ValueError(f"judges[{k}]: weights={judge['weights']!r} is not a judges/segmenter-<key>.pt "
                                 f"beside the results")
            if "curve" in judge and not (isinstance(judge["curve"], str) and JUDGE_CURVE.fullmatch(judge["curve"])):
                raise ValueError(f"judges[{k}]: curve={judge['curve']!r} is not a judges/curve-seed<N>.json")
            seeds.append(judge["seed"])
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"judges: seed listed twice ({seeds})")
        for part, fields in (("calibration", CALIBRATION_FIELDS), ("runs", RUN_FIELDS)):
            for k, record in enumerate(document[part]):
                _check_record(record, fields, f"{part}[{k}]")
                if record["judge_seed"] not in seeds:
                    raise ValueError(f"{part}[{k}]: judge_seed={record['judge_seed']} is none of the judges' seeds "
                                     f"{seeds}")
        known, budgets = set(models), set(document["settings"]["budgets"])
        for k, run in enumerate(document["runs"]):
            if run["model"] not in known:
                raise ValueError(f"runs[{k}]: model={run['model']!r} is none of {', '.join(sorted(known))}")
            if run["steps"] not in budgets:
                raise ValueError(f"runs[{k}]: steps={run['steps']} is none of the budgets {sorted(budgets)}")
    except ValueError as error:
        raise ValueError(f"{path}: not a study results file: {error}; {fix}") from None
    return document


def check_judge_file(results: Path, weights: str) -> Path:
    """The judge's weights file named in results (judges/segmenter-<key>.pt beside it), as a regular file."""
    if not JUDGE_WEIGHTS.fullmatch(weights):
        raise ValueError(f"{results}: judge weights {weights!r} are not judges/segmenter-<key>.pt beside it; restore "
                         f"the file (git checkout)")
    return regular_file(results.parent / weights, "judge's weights",
                        f"restore the judges/ folder beside {results.name}, or regenerate with `spade-lesson ablate`")

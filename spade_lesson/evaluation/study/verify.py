"""`verify(path)`: recompute a study's committed numbers from what ships with it and say whether they agree.

Checked: each judge's weights were trained on this data; every calibration row (real images, flat and blurred
painters under every judge: mIoU, pixel accuracy, KID) recomputed from the shipped judges, which must agree to rounding;
and each rerun (model, seed, steps) trained again from step 0 through the one loop, its EMA generator scored at every
budget up to `steps` under every judge, which must agree within twice the model's seed std at that budget (to rounding
where that std is 0, e.g. one seed committed: training on one CPU thread repeats itself). A file with nothing to check
is an error, not a pass.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import torch

from spade_lesson.evaluation.results_check import check_judge_file
from spade_lesson.evaluation.segmenter import dataset_fingerprint
from spade_lesson.evaluation.study.claims import summarize
from spade_lesson.evaluation.study.config import COMMITTED, AblationConfig, run_folder
from spade_lesson.evaluation.study.judges import load_judges
from spade_lesson.evaluation.study.results import load_results
from spade_lesson.evaluation.study.runner import run_curve, splits
from spade_lesson.evaluation.study.scoring import calibration_rows, reference

EXACT = {"miou": 1e-6, "accuracy": 1e-6, "kid": 1e-3}  # what "agrees to rounding" allows (KID x 1000 in float32)


def study_config(path: Path, data_root: str, work: str) -> AblationConfig:
    """The AblationConfig that made the results file at path (its settings and training sizes), on the CPU."""
    document = load_results(path)
    settings, training = document["settings"], document["training"]
    judges = tuple(record["seed"] for record in document["judges"])
    if not judges:
        raise ValueError(f"{path}: holds no judges, so there is nothing to verify; run `spade-lesson ablate` first")
    return AblationConfig(dataset=training["dataset"], data_root=data_root, size=training["size"],
                          batch_size=training["batch_size"], ngf=training["ngf"], spade_hidden=training["spade_hidden"],
                          budgets=tuple(settings["budgets"]), judges=judges, eval_images=settings["eval_images"],
                          segmenter_steps=settings["segmenter_steps"], device="cpu", results=str(path), work=work)


def verify(path: str | Path = COMMITTED, reruns: tuple[tuple[str, int, int], ...] = (), data_root: str = "data",
           work: str = "runs/verify", progress: bool = True) -> bool:
    """Recompute the committed calibration rows and the reruns asked for; one line per check; True when all agree."""
    path = Path(path)
    config = study_config(path, data_root, work)
    document = load_results(path, config)
    device = torch.device("cpu")
    train_data, val_data = splits(config)
    judges = load_judges(path, config.judges, config.segmenter_steps, train_data, val_data, device, progress)
    for record in document["judges"]:
        weights = check_judge_file(path, record["weights"])
        trained_on = torch.load(weights, map_location="cpu", weights_only=True)
        if trained_on["config"]["dataset"] != dataset_fingerprint(train_data):
            raise ValueError(f"{weights}: this judge was trained on other data than "
                             f"{config.dataset!r}; regenerate the results with `spade-lesson ablate`")
    ref = reference(val_data, judges, config.eval_images)
    agree, checked = True, 0
    committed = {(row["row"], row["judge_seed"]): row for row in document["calibration"]}
    for row in calibration_rows(val_data, train_data, ref, judges):
        saved = committed.get((row["row"], row["judge_seed"]))
        if saved is None:
            continue
        same = all(abs(row[m] - saved[m]) <= EXACT[m] for m in EXACT)
        agree &= same
        checked += 1
        print(f"{row['row']}, judge {row['judge_seed']}: mIoU {row['miou']:.6f}, KID x 1000 {row['kid']:.4f}; "
              f"committed {saved['miou']:.6f}, {saved['kid']:.4f}: {'agrees' if same else 'DIFFERS'}")
    for model, seed, steps in reruns:
        records = {(r["steps"], r["judge_seed"]): r for r in document["runs"]
                   if (r["model"], r["seed"]) == (model, seed) and r["steps"] <= steps}
        if not records:
            raise ValueError(f"{path} holds no record of {model} seed {seed} up to {steps} steps: pick a run and "
                             "budget it holds (MODEL:SEED:STEPS)")
        wanted = {}
        for budget, judge in records:
            wanted.setdefault(budget, set()).add(judge)
        got: list[dict] = []
        rerun = dataclasses.replace(config, results=str(Path(work) / "verify.json"))
        shutil.rmtree(run_folder(rerun, model, seed), ignore_errors=True)  # from step 0, not from an earlier rerun
        run_curve(rerun, model, seed, wanted, judges, ref, train_data, got.extend, progress)
        for record in got:
            saved = records[record["steps"], record["judge_seed"]]
            seed_std = summarize(document, record["steps"])[model].miou.seed_std
            tolerance = max(2 * seed_std, EXACT["miou"])
            difference = record["miou"] - saved["miou"]
            within = abs(difference) <= tolerance
            agree &= within
            checked += 1
            rule = "2 x its seed std" if seed_std > 0 else "rounding (its seed std is 0)"
            print(f"{model} seed {seed} at {record['steps']} steps, judge {record['judge_seed']}: mIoU "
                  f"{record['miou']:.4f}, committed {saved['miou']:.4f}, difference {difference:+.4f}: "
                  f"{'within' if within else 'OUTSIDE'} {rule} ({tolerance:.4f})")
    if not checked:
        raise ValueError(f"{path}: nothing to verify (no calibration rows, no rerun matched); run `spade-lesson "
                         "ablate` first or pass --rerun MODEL:SEED:STEPS of a committed run")
    return agree

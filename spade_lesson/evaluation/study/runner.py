"""Running the study: every (model, seed) is ONE training run through the course's loop
(spade_lesson.training.loop.train), stopped at each budget, its EMA generator kept and scored there, then resumed to
the next budget (the loop resumes exactly; the learning rate is constant, see spade_lesson.evaluation.study.config).

`run_ablation(config)`: the judges and the calibration rows first, then the runs seed by seed (every model at seed 0,
then seed 1, ...: a study cut short has complete, comparable slices), `jobs` runs at once, each finished record
written to the results file at once; a run whose checkpoint is gone (a fresh checkout) is trained again from step 0 and
scored only where the file lacks records. Prints a time estimate before it starts.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import platform
import queue
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from spade_lesson.data import load_dataset, to_uint8
from spade_lesson.data.batches import stack_items
from spade_lesson.data.pictures import write_png
from spade_lesson.evaluation.study.config import AblationConfig, gan_config, run_folder
from spade_lesson.evaluation.study.judges import judge_records, load_judges
from spade_lesson.evaluation.study.results import add_records, key, load_results, new_document, scored, write_results
from spade_lesson.evaluation.study.scoring import Reference, calibration_rows, generate, reference, score_pictures
from spade_lesson.layers.counting import count_parameters
from spade_lesson.models.variants import build_variant, norm_macs
from spade_lesson.runtime.atomic import atomic_write
from spade_lesson.runtime.machine import pick_device, seed_everything
from spade_lesson.training.checkpoint_file import CHECKPOINT_NAME, load_checkpoint
from spade_lesson.training.config import TrainConfig
from spade_lesson.training.loop import train
from spade_lesson.training.trainer import SPADETrainer

SAMPLES = "samples"  # folder beside the results: seed 0's pictures of the first SAMPLE_MAPS maps at each budget
SAMPLE_MAPS = 3
Emit = Callable[[list[dict[str, Any]]], None]


def splits(config: AblationConfig) -> tuple[Dataset, Dataset]:
    """The training and validation splits at the study's size."""
    size = gan_config(config, 0).size
    train_data = load_dataset(config.dataset, root=config.data_root, split="train", size=size)
    return train_data, load_dataset(config.dataset, root=config.data_root, split="val", size=size)


def build_generator(model: str, config: TrainConfig, semantic_nc: int) -> nn.Module:
    """The variant `model` (spade_lesson.models.variants) at the config's SPADE width and size."""
    return build_variant(model, semantic_nc, ngf=config.ngf, spade_hidden=config.spade_hidden, crop_size=config.size)


def missing_budgets(document: dict[str, Any], config: AblationConfig, model: str, seed: int) -> dict[int, set[int]]:
    """budget -> the judge seeds whose record of (model, seed) at that budget the file lacks (budgets lacking none
    left out)."""
    missing = {steps: set(config.judges) - scored(document, model, seed, steps) for steps in config.budgets}
    return {steps: judges for steps, judges in missing.items() if judges}


def checkpoint_step(folder: Path) -> int:
    """The step the run's checkpoint holds, 0 when there is none."""
    path = folder / CHECKPOINT_NAME
    return load_checkpoint(path)["step"] if path.is_file() else 0


def sample_path(results: Path, model: str, seed: int, steps: int) -> Path:
    """<results folder>/samples/<model>-seed<seed>-step<steps>.png: the generator's pictures of the first maps."""
    return results.parent / SAMPLES / f"{model}-seed{seed}-step{steps:05d}.png"


def snapshot_path(folder: Path, steps: int) -> Path:
    """The run's EMA generator at this budget: <run folder>/ema-step<steps>.pt (its state_dict)."""
    return folder / f"ema-step{steps:05d}.pt"


def run_curve(config: AblationConfig, model: str, seed: int, missing: dict[int, set[int]], judges: dict[int, nn.Module],
              ref: Reference, train_data: Dataset, emit: Emit, progress: bool) -> None:
    """Score (model, seed) at every missing budget (budget -> judge seeds to score there; emit(records) once per
    budget): from the EMA generator kept at that budget where the run's folder has it, else by training the run on
    through every budget up to the last missing one, keeping the EMA generator at each."""
    folder = run_folder(config, model, seed)
    base = gan_config(config, seed, out=folder)
    semantic_nc = train_data.num_classes
    for steps in sorted(missing):
        if snapshot_path(folder, steps).is_file() and steps <= checkpoint_step(folder):  # scored by a new judge
            generator = build_generator(model, base, semantic_nc)
            generator.load_state_dict(torch.load(snapshot_path(folder, steps), weights_only=True))
            emit(score_budget(config, model, seed, steps, generator, {j: judges[j] for j in missing.pop(steps)},
                              ref, seconds=None))
    if not missing:
        return
    if checkpoint_step(folder) > min(missing):  # past a budget the file lacks, with no snapshot: start over
        shutil.rmtree(folder)
    for steps in [b for b in config.budgets if b <= max(missing)]:
        reached = checkpoint_step(folder)
        if reached > steps or (reached == steps and steps not in missing):
            continue
        seed_everything(seed)  # the generator's initial weights depend on the seed only
        generator = build_generator(model, base, semantic_nc)
        started = time.perf_counter()
        run = dataclasses.replace(base, steps=steps, resume=(folder / CHECKPOINT_NAME).is_file())
        trainer = train(run, generator=generator, data=train_data, progress=progress).trainer
        seconds = time.perf_counter() - started
        with atomic_write(snapshot_path(folder, steps)) as file:
            torch.save(trainer.ema.state_dict(), file)
        if steps in missing:
            emit(score_budget(config, model, seed, steps, trainer.ema, {j: judges[j] for j in missing[steps]}, ref,
                              seconds))


def score_budget(config: AblationConfig, model: str, seed: int, steps: int, generator: nn.Module,
                 judges: dict[int, nn.Module], ref: Reference, seconds: float | None) -> list[dict[str, Any]]:
    """One record per judge of the EMA generator at this budget (and its pictures of the first maps for seed 0);
    seconds: of training since the previous budget (None: scored from a kept generator, not timed)."""
    pictures = generate(generator, ref.label, ref.num_classes)
    if seed == min(config.seeds):
        row = torch.cat([to_uint8(picture) for picture in pictures[:SAMPLE_MAPS]], dim=1)
        write_png(row, sample_path(Path(config.results), model, seed, steps))
    height, width = ref.label.shape[-2:]
    params, macs = count_parameters(generator), norm_macs(generator, ref.num_classes, height, width)
    device = next(generator.parameters()).device.type
    return [{"model": model, "seed": seed, "steps": steps, "judge_seed": judge, **scores, "params": params,
             "norm_macs": macs, "seconds": None if seconds is None else round(seconds, 1), "device": device}
            for judge, scores in score_pictures(pictures, ref, judges).items()]


def check_resumed_models(document: dict[str, Any], config: AblationConfig, semantic_nc: int, path: Path) -> None:
    """Refuse to resume runs whose generator differs in size from the one this code builds (the model changed)."""
    for model in sorted({run["model"] for run in document["runs"]}):
        recorded = next(run["params"] for run in document["runs"] if run["model"] == model)
        with torch.device("meta"):
            built = count_parameters(build_generator(model, gan_config(config, 0), semantic_nc))
        if recorded != built:
            raise ValueError(f"{path}: its {model} runs have {recorded:,} generator parameters but this code builds "
                             f"{built:,}; the model changed, so move the file away to start over")


def seconds_per_step(document: dict[str, Any], config: AblationConfig, device: torch.device,
                     train_data: Dataset) -> float:
    """A SPADE step's seconds here: from the file's SPADE records on this device, else 3 timed steps."""
    done = {}
    for run in document["runs"]:
        if run["model"] == "spade" and run["device"] == device.type and run["seconds"] is not None:
            done[(run["seed"], run["steps"])] = run["seconds"]
    budgets = [0, *config.budgets]
    stages = [(done[(seed, b)], b - budgets[budgets.index(b) - 1]) for seed, b in done]
    if stages:
        return sum(s for s, _ in stages) / sum(n for _, n in stages)
    run = gan_config(config, 0)
    trainer = SPADETrainer(run, train_data.num_classes, device=device,
                           generator=build_generator("spade", run, train_data.num_classes))
    batch = stack_items(train_data, run.batch_size)
    label, image = batch["label"], batch["image"]
    trainer.step(label, image)  # the first step warms up
    started = time.perf_counter()
    for _ in range(3):
        trainer.step(label, image)
    return (time.perf_counter() - started) / 3


def estimate(tasks: list[tuple[str, int, dict[int, set[int]]]], config: AblationConfig, per_step: float) -> str:
    """'24 runs to train (48,000 GAN steps), about 0.27 s a step: about 1.8 h with 2 jobs (plus scoring)'."""
    last = {}
    for model, seed, missing in tasks:
        last[model, seed] = max(last.get((model, seed), 0), *missing)
    steps = sum(max(0, b - checkpoint_step(run_folder(config, *run))) for run, b in last.items())
    hours = steps * per_step / config.jobs / 3600
    when = f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.0f} min"
    return (f"study: {len(last)} runs to train ({steps:,} GAN steps), about {per_step:.2g} s a SPADE step here: "
            f"about {when} with {config.jobs} job{'s' * (config.jobs > 1)} (variants differ; plus scoring)")


def describe(records: list[dict[str, Any]]) -> str:
    """'spade seed 0 at 150 steps: mIoU 0.61 0.62 0.60, KID 12.3 11.8 12.9 (judges 0 1 2)'."""
    first = records[0]
    mious = " ".join(f"{r['miou']:.2f}" for r in records)
    kids = " ".join(f"{r['kid']:.1f}" for r in records)
    timed = "from its kept generator" if first["seconds"] is None else f"{first['seconds']:.0f} s of training"
    return (f"{first['model']} seed {first['seed']} at {first['steps']} steps: mIoU {mious}, KID x 1000 {kids} "
            f"(judges {' '.join(str(r['judge_seed']) for r in records)}; {timed})")


def stages(document: dict[str, Any], config: AblationConfig) -> list[tuple[str, int, dict[int, set[int]]]]:
    """The work left, as (model, seed, {budget: judge seeds}) stages in the order they run: seed by seed, and within
    a seed budget by budget over every model, so that a study cut short holds every model at the same budgets."""
    missing = {(model, seed): missing_budgets(document, config, model, seed) for seed in config.seeds
               for model in config.models}
    return [(model, seed, {steps: missing[model, seed][steps]}) for seed in config.seeds for steps in config.budgets
            for model in config.models if steps in missing[model, seed]]


_LOADED: dict[str, Any] = {}  # a worker process's data, judges and reference, loaded once for all its stages


def _worker(config: AblationConfig, model: str, seed: int, missing: dict[int, set[int]], threads: int,
            records: Any) -> None:
    """One stage in a worker process (kept for the next stages): its records go to the parent through `records`."""
    if not _LOADED:
        if threads:
            torch.set_num_threads(threads)
        device = pick_device(config.device)
        train_data, val_data = splits(config)
        judges = load_judges(Path(config.results), config.judges, config.segmenter_steps, train_data, val_data,
                             device, progress=False)
        _LOADED.update(train_data=train_data, judges=judges, ref=reference(val_data, judges, config.eval_images))
    run_curve(config, model, seed, missing, _LOADED["judges"], _LOADED["ref"], _LOADED["train_data"], records.put,
              progress=False)


def run_parallel(config: AblationConfig, tasks: list[tuple[str, int, dict[int, set[int]]]], emit: Emit) -> None:
    """config.jobs stages at once, each worker a process of its own (spawned: CUDA and threads start clean), never
    two stages of one run at once."""
    threads = max(1, torch.get_num_threads() // config.jobs) if pick_device(config.device).type == "cpu" else 0
    context = multiprocessing.get_context("spawn")
    pending = list(tasks)
    with context.Manager() as manager, ProcessPoolExecutor(config.jobs, mp_context=context) as pool:
        records = manager.Queue()
        running: dict[Any, tuple[str, int]] = {}
        while pending or running:
            for task in list(pending):  # the first stages whose run is not training, while a worker is free
                if len(running) == config.jobs:
                    break
                if task[:2] not in running.values():
                    running[pool.submit(_worker, config, *task, threads, records)] = task[:2]
                    pending.remove(task)
            finished, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            while True:
                try:
                    emit(records.get_nowait())
                except queue.Empty:
                    break
            for future in finished:
                del running[future]
                future.result()  # a run's error stops the study (finished records are kept)


def run_ablation(config: AblationConfig, progress: bool = True) -> dict[str, Any]:
    """Judges and calibration rows first, then every missing (model, seed, budget), each record written at once."""
    device = pick_device(config.device)
    train_data, val_data = splits(config)
    path = Path(config.results)
    document = load_results(path, config) if path.is_file() else new_document(config)
    check_resumed_models(document, config, train_data.num_classes, path)  # before any long work
    judges = load_judges(path, config.judges, config.segmenter_steps, train_data, val_data, device, progress)
    document.update(judges=judge_records(path, config.judges, config.segmenter_steps, train_data),
                    torch=torch.__version__, machine=platform.machine())
    ref = reference(val_data, judges, config.eval_images)
    have = {row["judge_seed"] for row in document["calibration"]}
    new = {seed: judge for seed, judge in judges.items() if seed not in have}
    if new:
        add_records(document, "calibration", calibration_rows(val_data, train_data, ref, new), path)
    write_results(document, path)
    tasks = stages(document, config)
    if not tasks:
        return document
    print(estimate(tasks, config, seconds_per_step(document, config, device, train_data)), flush=True)
    started, total = time.perf_counter(), len(config.models) * len(config.seeds) * len(config.budgets) * len(judges)

    def emit(records: list[dict[str, Any]]) -> None:
        """Write a budget's records at once and say what they are (a new judge's records of a kept generator take
        the training time the other judges' records of it carry)."""
        timed = {key(run)[:3]: run["seconds"] for run in document["runs"] if run["seconds"] is not None}
        records = [{**record, "seconds": record["seconds"] if record["seconds"] is not None else
                    timed.get(key(record)[:3])} for record in records]
        add_records(document, "runs", records, path)
        print(f"{describe(records)} [{len(document['runs'])} of {total} records; "
              f"{(time.perf_counter() - started) / 60:.1f} min]", flush=True)

    if config.jobs == 1:
        for model, seed, missing in tasks:
            run_curve(config, model, seed, missing, judges, ref, train_data, emit, progress)
    else:
        run_parallel(config, tasks, emit)
    return document

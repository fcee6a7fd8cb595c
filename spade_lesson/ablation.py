"""A miniature of the paper's main claim (Park et al., CVPR 2019, Sec. 3-4): SPADE beats the same decoder with
BatchNorm or InstanceNorm fed the label map at its input, at matched parameter counts and an equal training budget.

Every model is trained by the same loop (spade_lesson.train.train with the model's generator: the same discriminator,
losses, optimizers, data order, number of steps, NaN stop and checkpoints) for several seeds, and scored with the paper's protocol
(spade_lesson.segmenter): a U-Net trained on real images segments the generated ones; mIoU and pixel accuracy
against the input label maps of the validation split.

`AblationConfig`: the knobs; `run_ablation(config)` -> the JSON document it writes to <out>/ablation_<dataset>.json
(one record per run; runs already there are skipped, and a run cut short resumes from its checkpoint), and the figure
<out>/ablation_<dataset>.png (what `spade-lesson ablate` runs).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from spade_lesson.atomic import atomic_write
from spade_lesson.baselines import BaselineGenerator, count_parameters, matching_ngf
from spade_lesson.checkpoints.io import CHECKPOINT_NAME
from spade_lesson.config import TrainConfig, cpu_config, setting, shared
from spade_lesson.data import colorize, load_dataset, to_uint8
from spade_lesson.fid import fid, load_inception
from spade_lesson.networks import build_networks
from spade_lesson.runtime import pick_device, seed_everything
from spade_lesson.segmenter import ceiling, evaluate, train_segmenter
from spade_lesson.train import train
from spade_lesson.trainer import SPADETrainer

COMMITTED = Path(__file__).parent / "results"  # the course's own run, shipped with the package for notebook 06
MODELS = ("spade", "batchnorm", "instancenorm")
BASELINE_NORMS = {"batchnorm": "batch", "instancenorm": "instance"}  # model name -> BaselineGenerator norm
SAMPLE_MAPS = 4  # validation label maps drawn in the figure
# AblationConfig fields that decide the numbers: a results file made with other values is not resumed
SETTINGS = ("dataset", "size", "steps", "batch_size", "ngf", "spade_hidden", "eval_images", "segmenter_steps")


@dataclass
class AblationConfig:
    """One ablation: `models` x `seeds`, each trained `steps` GAN steps, scored on `eval_images` validation maps.

    The fields shared with training are TrainConfig's (the same meaning and checks), at the ablation's defaults.
    """

    dataset: str = shared("dataset")
    data_root: str = shared("data_root")
    size: int = shared("size", 64)
    steps: int = shared("steps", 300)  # per run: the equal budget
    batch_size: int = shared("batch_size", 4)
    ngf: int = shared("ngf", 16)  # SPADE's; each baseline gets the width that matches its parameter count
    spade_hidden: int = shared("spade_hidden", 32)
    seeds: tuple[int, ...] = setting((0, 1, 2), "seeds per model: 0, 1, ..., N-1")
    models: tuple[str, ...] = setting(MODELS, "models to train", choices=MODELS)
    eval_images: int = setting(128, "validation label maps scored per run")
    segmenter_steps: int = setting(600, "training steps of the evaluation U-Net (trained once, cached)")
    device: str = shared("device")
    out: str = setting("results", "folder for the JSON and the figure")
    work: str = setting("runs/ablation", "folder for cached segmenters and each run's checkpoint and samples")

    def __post_init__(self) -> None:
        """Check the values with one-line errors naming the field."""
        unknown = [model for model in self.models if model not in MODELS]
        if unknown or not self.models:
            raise ValueError(f"models={self.models!r}: choose from {', '.join(MODELS)}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds={self.seeds!r}: pass at least one seed, each once")
        for name in ("eval_images", "segmenter_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1")
        gan_config(self, self.seeds[0])  # the shared settings, checked as training checks them
        if "instancenorm" in self.models and self.size < 64:
            raise ValueError(f"size={self.size}: the InstanceNorm baseline starts from a (size / 32)^2 map and needs "
                             "more than one pixel there; use size >= 64")

    def settings(self) -> dict[str, Any]:
        """The fields that decide the numbers (stored in the JSON, compared when resuming)."""
        return {name: getattr(self, name) for name in SETTINGS}


def work_folder(config: AblationConfig) -> Path:
    """<work>/ablation_<dataset>-<hash of the settings>: this ablation's runs and samples, apart from other settings'."""
    key = hashlib.sha256(json.dumps(config.settings(), sort_keys=True).encode()).hexdigest()[:8]
    return Path(config.work) / f"{results_path(config).stem}-{key}"


def gan_config(config: AblationConfig, seed: int) -> TrainConfig:
    """The TrainConfig every model of the ablation trains with (the CPU preset's GAN at the ablation's size)."""
    return cpu_config(dataset=config.dataset, data_root=config.data_root, size=config.size, steps=config.steps,
                      batch_size=config.batch_size, ngf=config.ngf, spade_hidden=config.spade_hidden, seed=seed,
                      device=config.device, decay_start=config.steps // 2,
                      out=str(work_folder(config) / f"seed{seed}"))


def build_generator(model: str, config: TrainConfig, semantic_nc: int) -> nn.Module:
    """SPADE's generator, or the BatchNorm / InstanceNorm baseline at the width matching its parameter count."""
    if model == "spade":
        return build_networks(config, semantic_nc, discriminator=False)["G"]
    norm = BASELINE_NORMS[model]
    ngf = matching_ngf(semantic_nc, ngf=config.ngf, crop_size=config.size, aspect_ratio=1.0,
                       spade_hidden=config.spade_hidden, norm=norm)
    return BaselineGenerator(semantic_nc, ngf=ngf, crop_size=config.size, aspect_ratio=1.0, norm=norm)


def train_model(model: str, config: TrainConfig, data: Dataset, device: torch.device,
                progress: bool = True) -> SPADETrainer:
    """Train one model config.steps GAN steps on data with spade_lesson.train.train (the same D, losses, optimizers,
    data order and loop for every model); its checkpoint is <config.out>/<model>, resumed if there. The trainer."""
    out = Path(config.out) / model
    run = dataclasses.replace(config, out=str(out), device=str(device), resume=(out / CHECKPOINT_NAME).is_file())
    seed_everything(config.seed)  # the generator's initial weights depend on the seed only
    return train(run, generator=build_generator(model, run, data.num_classes), data=data, progress=progress).trainer


def write_json(document: dict[str, Any], path: Path) -> None:
    """Write document as indented JSON, atomically."""
    with atomic_write(path, "w") as file:
        json.dump(document, file, indent=1)
        file.write("\n")


def results_path(config: AblationConfig) -> Path:
    """<out>/ablation_<dataset>.json (a folder dataset is named by its folder)."""
    return Path(config.out) / f"ablation_{Path(config.dataset).name}.json"


def load_results(path: Path, config: AblationConfig) -> dict[str, Any] | None:
    """The results file to resume, or None; a file made with other settings is a clear error."""
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text())
        saved = document["settings"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{path}: not an ablation results file; move it away or pick another --out") from None
    changed = [name for name in SETTINGS if saved.get(name) != config.settings()[name]]
    if changed:
        name = changed[0]
        raise ValueError(f"{path} was made with {name}={saved.get(name)!r}, this run asks "
                         f"{name}={config.settings()[name]!r}: use the same settings to resume, or another --out")
    return document


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per model: seeds, params, and mean and sample std (0 for one seed) of miou and pixel_acc over its runs."""
    summary = {}
    for model in MODELS:
        mine = [run for run in runs if run["model"] == model]
        if not mine:
            continue
        row: dict[str, float] = {"seeds": len(mine), "params": mine[0]["params"]}
        for metric in ("miou", "pixel_acc"):
            values = [run[metric] for run in mine]
            row[f"{metric}_mean"] = statistics.fmean(values)
            row[f"{metric}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        summary[model] = row
    return summary


def check_resumed_models(runs: list[dict[str, Any]], config: AblationConfig, data: Dataset, path: Path) -> None:
    """Refuse to resume runs whose generator differs in size from the one this code builds (the model changed)."""
    for model in sorted({run["model"] for run in runs}):
        recorded = next(run["params"] for run in runs if run["model"] == model)
        built = count_parameters(build_generator(model, gan_config(config, seed=0), data.num_classes))
        if recorded != built:
            raise ValueError(f"{path}: its {model} runs have {recorded:,} generator parameters but this code builds "
                             f"{built:,}; the model changed, so move the file away to start over")


def run_ablation(config: AblationConfig, progress: bool = True) -> dict[str, Any]:
    """Train and score each (model, seed) not in the results file yet (JSON saved after each run), then draw."""
    device = pick_device(config.device)
    train_data = load_dataset(config.dataset, root=config.data_root, split="train", size=config.size)
    val_data = load_dataset(config.dataset, root=config.data_root, split="val", size=config.size)
    path = results_path(config)
    document = load_results(path, config) or {"settings": config.settings(), "runs": []}
    check_resumed_models(document["runs"], config, train_data, path)  # before any long work
    work = work_folder(config)
    segmenter = train_segmenter(train_data, config.segmenter_steps, device=device, cache_dir=Path(config.work) /
                                "segmenters", progress=progress)
    document["ceiling"] = ceiling(val_data, segmenter, num_images=config.eval_images)
    inception = load_inception()
    count = min(config.eval_images, len(val_data))
    real = torch.stack([val_data[i]["image"] for i in range(count)])
    maps = torch.stack([val_data[i]["label"] for i in range(min(SAMPLE_MAPS, len(val_data)))])
    done = {(run["model"], run["seed"]) for run in document["runs"]}
    for seed in config.seeds:
        for model in config.models:
            if (model, seed) in done:
                continue
            started = time.perf_counter()
            trainer = train_model(model, gan_config(config, seed), train_data, device, progress)
            seconds = time.perf_counter() - started
            scores = evaluate(trainer.ema, val_data, segmenter, num_images=config.eval_images)
            fake = None
            if inception is not None:
                labels = torch.stack([val_data[i]["label"] for i in range(count)])
                fake = torch.cat([trainer.generate(chunk) for chunk in labels.split(16)])
            document["runs"].append({
                "model": model, "seed": seed, "miou": scores["miou"], "pixel_acc": scores["pixel_acc"],
                "fid": fid(inception, real, fake) if fake is not None else None,
                "params": count_parameters(trainer.generator), "steps": config.steps, "device": device.type,
                "seconds": round(seconds, 1)})
            with atomic_write(work / f"{model}-seed{seed}.pt", "wb") as file:
                torch.save(trainer.generate(maps).cpu(), file)
            write_json(document, path)
    write_json(document, path)
    write_figure(document, val_data, work, path.with_suffix(".png"))
    return document


def write_figure(document: dict[str, Any], val_data: Dataset, work: Path, path: Path) -> None:
    """Table of mean +- std per model (and the real-image ceiling) beside samples: label | real | each model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize(document["runs"])
    seed = min(run["seed"] for run in document["runs"])
    samples = {model: torch.load(work / f"{model}-seed{seed}.pt", weights_only=True) for model in summary
               if (work / f"{model}-seed{seed}.pt").is_file()}
    rows = min(SAMPLE_MAPS, len(val_data))
    columns = ["label map", "real"] + list(samples)
    figure = plt.figure(figsize=(5.5 + 1.3 * len(columns), 1.3 * rows + 0.5), dpi=90)
    grid = figure.add_gridspec(rows, len(columns) + 4)
    table = figure.add_subplot(grid[:, :4])
    table.axis("off")
    cells = [[model, f"{row['params'] / 1e6:.2f}M", str(row["seeds"]),
              *(f"{row[f'{metric}_mean']:.3f} ± {row[f'{metric}_std']:.3f}" for metric in ("miou", "pixel_acc"))]
             for model, row in summary.items()]
    best = document["ceiling"]
    cells.append(["real images", "", "", f"{best['miou']:.3f}", f"{best['pixel_acc']:.3f}"])
    drawn = table.table(cellText=cells, colLabels=["model", "params", "seeds", "mIoU", "pixel accuracy"],
                        colWidths=[0.24, 0.14, 0.1, 0.26, 0.26], loc="center", cellLoc="center")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(8)
    drawn.scale(1.0, 1.8)
    settings = document["settings"]
    table.set_title(f"{settings['dataset']} {settings['size']} px, {settings['steps']} steps per run\n"
                    f"segmentation scores of {settings['eval_images']} validation maps, mean ± std over seeds",
                    fontsize=8)
    for r in range(rows):
        item = val_data[r]
        pictures = [colorize(item["label"], val_data.palette), to_uint8(item["image"])]
        pictures += [to_uint8(samples[model][r]) for model in samples]
        for c, picture in enumerate(pictures):
            ax = figure.add_subplot(grid[r, 4 + c])
            ax.imshow(picture.numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c] + (f"\n(seed {seed})" if c >= 2 else ""), fontsize=8)
    try:
        with atomic_write(path, "wb") as file:
            figure.savefig(file, format="png", bbox_inches="tight")
    finally:
        plt.close(figure)

"""The paper's ablations in miniature (Park et al., CVPR 2019, Sec. 4, Tables 3 and 4; Tan et al., TPAMI 2021), with
the controls that can refute the course's claims: the variants of spade_lesson.models.variants, each trained by the one
loop.

Every variant is trained by spade_lesson.training.loop.train (the same discriminator, losses, optimizers, data order,
number
of steps, NaN stop and checkpoints) for several seeds, and scored with the paper's protocol
(spade_lesson.evaluation.segmenter):
a U-Net trained on real images segments the generated images, mIoU and pixel accuracy against the input label maps.
The U-Net is itself trained with several seeds (the judges), so that the instrument's own noise is measured; the
judges' weights (0.48M parameters each) are written beside the results and ship with the package.

`AblationConfig`: the knobs; `run_ablation(config)` -> the JSON document it writes to <out>/ablation_<dataset>.json
after every run (a finished (model, seed) is skipped, a run cut short resumes from its checkpoint), and the figure
<out>/ablation_<dataset>.png; `verify(path, reruns)` recomputes committed scores from the shipped judges (and reruns
the runs asked for); `spade-lesson ablate` runs them (spade_lesson.cli.ablate).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from spade_lesson.data import colorize, load_dataset, to_uint8
from spade_lesson.evaluation.claims import CLAIMS, mean_std, measure, summarize
from spade_lesson.evaluation.results_check import check_judge_file, read_results_document
from spade_lesson.evaluation.segmenter import (
    ceiling,
    dataset_fingerprint,
    evaluate,
    load_segmenter,
    segmenter_file,
    train_segmenter,
)
from spade_lesson.layers.counting import count_parameters
from spade_lesson.models.variants import VARIANTS, build_variant, norm_macs
from spade_lesson.runtime.atomic import atomic_write
from spade_lesson.runtime.machine import pick_device, seed_everything
from spade_lesson.training.checkpoint_file import CHECKPOINT_NAME
from spade_lesson.training.config import TrainConfig, cpu_config, setting, shared
from spade_lesson.training.loop import train
from spade_lesson.training.trainer import SPADETrainer

COMMITTED = Path(__file__).parent / "results"  # the course's own run and its judges, shipped with the package
MODELS = tuple(VARIANTS)
JUDGES = "judges"  # folder beside the results holding the judges' weights
SAMPLE_MAPS = 3  # validation label maps drawn in the figure
# AblationConfig fields that decide the numbers: a results file made with other values is not resumed
SETTINGS = ("dataset", "size", "steps", "batch_size", "ngf", "spade_hidden", "eval_images", "segmenter_steps")


@dataclass
class AblationConfig:
    """One ablation: `models` x `seeds`, each trained `steps` GAN steps, scored by each of the `judges` segmenters.

    The fields shared with training are TrainConfig's (the same meaning and checks), at the ablation's defaults.
    The defaults are sized for the course's shared 2-core CPU, where one process got about a fifth of a core
    (1.2 s per SPADE step at 64 px, batch 4): 8 variants x 3 seeds x 150 steps and 3 judges x 300 steps in about
    an hour and a half there, half an hour on an idle core.
    """

    dataset: str = shared("dataset")
    data_root: str = shared("data_root")
    size: int = shared("size", 64)
    steps: int = shared("steps", 150)  # per run: the equal budget (sized for ~1 h of one shared CPU core, see below)
    batch_size: int = shared("batch_size", 4)
    ngf: int = shared("ngf", 16)  # SPADE's; each matched variant gets the width that matches its parameter count
    spade_hidden: int = shared("spade_hidden", 32)
    seeds: tuple[int, ...] = setting((0, 1, 2), "generator seeds per model: 0, 1, ..., N-1")
    judges: tuple[int, ...] = setting((0, 1, 2), "segmenter seeds (the judges): 0, 1, ..., N-1")
    models: tuple[str, ...] = setting(MODELS, "models to train", choices=MODELS)
    eval_images: int = setting(128, "validation label maps scored per run")
    segmenter_steps: int = setting(300, "training steps of each judge (a U-Net trained on real images)")
    device: str = shared("device")
    out: str = setting("results", "folder for the JSON, the figure and the judges' weights")
    work: str = setting("runs/ablation", "folder for each run's checkpoint and samples")

    def __post_init__(self) -> None:
        """Check the values with one-line errors naming the field."""
        unknown = [model for model in self.models if model not in MODELS]
        if unknown or not self.models:
            raise ValueError(f"models={self.models!r}: choose from {', '.join(MODELS)}")
        for name in ("seeds", "judges"):
            values = getattr(self, name)
            if not values or len(set(values)) != len(values):
                raise ValueError(f"{name}={values!r}: pass at least one seed, each once")
        for name in ("eval_images", "segmenter_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1")
        gan_config(self, self.seeds[0])  # the shared settings, checked as training checks them
        if self.size < 64 and {"input_in", "spade_instance"} & set(self.models):
            raise ValueError(f"size={self.size}: InstanceNorm on the (size / 32)^2 start map needs more than one "
                             "pixel there; use size >= 64")

    def settings(self) -> dict[str, Any]:
        """The fields that decide the numbers (stored in the JSON, compared when resuming)."""
        return {name: getattr(self, name) for name in SETTINGS}


def results_path(config: AblationConfig) -> Path:
    """<out>/ablation_<dataset>.json (a folder dataset is named by its folder)."""
    return Path(config.out) / f"ablation_{Path(config.dataset).name}.json"


def work_folder(config: AblationConfig) -> Path:
    """<work>/ablation_<dataset>-<hash of the settings>: this ablation's runs and samples, apart from others'."""
    key = hashlib.sha256(json.dumps(config.settings(), sort_keys=True).encode()).hexdigest()[:8]
    return Path(config.work) / f"{results_path(config).stem}-{key}"


def gan_config(config: AblationConfig, seed: int) -> TrainConfig:
    """The TrainConfig every model of the ablation trains with (the CPU preset's GAN at the ablation's size, from the
    official initialization and the default autocast, as its committed runs)."""
    return cpu_config(dataset=config.dataset, data_root=config.data_root, size=config.size, steps=config.steps,
                      batch_size=config.batch_size, ngf=config.ngf, spade_hidden=config.spade_hidden, seed=seed,
                      device=config.device, decay_start=config.steps // 2, init_type="xavier", init_variance=0.02,
                      amp="auto",
                      out=str(work_folder(config) / f"seed{seed}"))


def build_generator(model: str, config: TrainConfig, semantic_nc: int) -> nn.Module:
    """The variant `model` (spade_lesson.models.variants) at the config's SPADE width and size."""
    return build_variant(model, semantic_nc, ngf=config.ngf, spade_hidden=config.spade_hidden, crop_size=config.size)


def train_model(model: str, config: TrainConfig, data: Dataset, device: torch.device,
                progress: bool = True) -> SPADETrainer:
    """Train one model config.steps GAN steps on data with spade_lesson.training.loop.train (the same D, losses,
    optimizers,
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


def load_results(path: Path, config: AblationConfig) -> dict[str, Any] | None:
    """The results file to resume, or None; a file made with other settings is a clear error."""
    if not path.exists():
        return None
    document = read_results_document(path, SETTINGS, MODELS)
    saved = document["settings"]
    changed = [name for name in SETTINGS if saved.get(name) != config.settings()[name]]
    if changed:
        name = changed[0]
        raise ValueError(f"{path} was made with {name}={saved.get(name)!r}, this run asks "
                         f"{name}={config.settings()[name]!r}: use the same settings to resume, or another --out")
    return document


def check_resumed_models(runs: list[dict[str, Any]], config: AblationConfig, semantic_nc: int, path: Path) -> None:
    """Refuse to resume runs whose generator differs in size from the one this code builds (the model changed)."""
    for model in sorted({run["model"] for run in runs}):
        recorded = next(run["params"] for run in runs if run["model"] == model)
        with torch.device("meta"):
            built = count_parameters(build_generator(model, gan_config(config, seed=0), semantic_nc))
        if recorded != built:
            raise ValueError(f"{path}: its {model} runs have {recorded:,} generator parameters but this code builds "
                             f"{built:,}; the model changed, so move the file away to start over")


def initialization(config: TrainConfig) -> str:
    """How the generators' weights start under this training config, in words (recorded in the results)."""
    fields = {name: value for name, value in dataclasses.asdict(config).items() if name.startswith("init")}
    if not fields:
        return "PyTorch's default initialization of each layer"
    return ", ".join(f"{name}={value!r}" for name, value in fields.items()) + " (spade_lesson.layers.initialization)"


def judge_file(out: Path, train_data: Dataset, config: AblationConfig, seed: int) -> Path:
    """Where the judge of this seed is kept: <out>/judges/segmenter-<key of its settings>.pt."""
    return segmenter_file(train_data, config.segmenter_steps, out / JUDGES, seed=seed)


def train_judges(config: AblationConfig, train_data: Dataset, val_data: Dataset, device: torch.device,
                 document: dict[str, Any], progress: bool) -> dict[int, nn.Module]:
    """The judges by seed (trained once, kept in <out>/judges), their ceilings recorded in document['judges']."""
    out = results_path(config).parent
    judges, records = {}, {record["seed"]: record for record in document["judges"]}
    for seed in config.judges:
        judges[seed] = train_segmenter(train_data, config.segmenter_steps, seed=seed, device=device,
                                       cache_dir=out / JUDGES, progress=progress)
        if seed not in records:
            scores = ceiling(val_data, judges[seed], num_images=config.eval_images)
            records[seed] = {"seed": seed, "ceiling_miou": scores["miou"], "ceiling_accuracy": scores["pixel_acc"],
                             "weights": judge_file(out, train_data, config, seed).relative_to(out).as_posix()}
    document["judges"] = [records[seed] for seed in sorted(records)]
    return judges


def score_run(model: str, seed: int, trainer: SPADETrainer, judges: dict[int, nn.Module], val_data: Dataset,
              config: AblationConfig, seconds: float) -> list[dict[str, Any]]:
    """One record per judge: the EMA generator's mIoU and pixel accuracy, its size and its normalization's cost."""
    generator = trainer.ema
    params = count_parameters(generator)
    macs = norm_macs(generator, val_data.num_classes, config.size, config.size)
    records = []
    for judge_seed, judge in judges.items():
        scores = evaluate(generator, val_data, judge, num_images=config.eval_images)
        records.append({"model": model, "seed": seed, "judge_seed": judge_seed, "miou": scores["miou"],
                        "accuracy": scores["pixel_acc"], "params": params, "norm_macs": macs,
                        "seconds": round(seconds, 1), "device": trainer.device.type})
    return records


def run_ablation(config: AblationConfig, progress: bool = True) -> dict[str, Any]:
    """Train and score each (model, seed) not in the results file yet (JSON saved after each run), then draw."""
    device = pick_device(config.device)
    train_data = load_dataset(config.dataset, root=config.data_root, split="train", size=config.size)
    val_data = load_dataset(config.dataset, root=config.data_root, split="val", size=config.size)
    path = results_path(config)
    document = load_results(path, config) or {"settings": config.settings(), "judges": [], "runs": []}
    check_resumed_models(document["runs"], config, train_data.num_classes, path)  # before any long work
    started_from = initialization(gan_config(config, config.seeds[0]))
    if document["runs"] and document.get("initialization") != started_from:
        raise ValueError(f"{path}: its runs started from {document.get('initialization')}, this code's from "
                         f"{started_from}; move the file away to start over")
    document.update(initialization=started_from, torch=torch.__version__, machine=platform.machine(),
                    threads=torch.get_num_threads())
    work = work_folder(config)
    judges = train_judges(config, train_data, val_data, device, document, progress)
    write_json(document, path)
    maps = torch.stack([val_data[i]["label"] for i in range(min(SAMPLE_MAPS, len(val_data)))])
    for seed in config.seeds:  # seed by seed: a study cut short has every model at the same number of seeds
        for model in config.models:
            scored = {run["judge_seed"] for run in document["runs"] if (run["model"], run["seed"]) == (model, seed)}
            missing = {judge: judges[judge] for judge in config.judges if judge not in scored}
            if not missing:
                continue
            started = time.perf_counter()
            trainer = train_model(model, gan_config(config, seed), train_data, device, progress)
            seconds = next((run["seconds"] for run in document["runs"] if (run["model"], run["seed"]) == (model, seed)),
                           time.perf_counter() - started)
            document["runs"] += score_run(model, seed, trainer, missing, val_data, config, seconds)
            with atomic_write(work / f"{model}-seed{seed}.pt", "wb") as file:
                torch.save(trainer.generate(maps).cpu(), file)
            write_json(document, path)
    write_figure(document, val_data, work, path.with_suffix(".png"))
    return document


def verify(path: str | Path = COMMITTED / "ablation_landscapes.json", reruns: tuple[tuple[str, int], ...] = (),
           data_root: str = "data", work: str = "runs/verify", progress: bool = True) -> bool:
    """Recompute the committed scores and say whether they agree: each judge's ceiling from its shipped weights
    (exactly, up to the last pixel), and each rerun (model, seed) trained again under every judge (within twice the
    model's seed std). Prints one line per check; True when all agree."""
    path = Path(path)
    config = AblationConfig(**document_settings(path), data_root=data_root, work=work, out=str(path.parent),
                            device="cpu")
    document = load_results(path, config)
    device = torch.device("cpu")
    train_data = load_dataset(config.dataset, root=config.data_root, split="train", size=config.size)
    val_data = load_dataset(config.dataset, root=config.data_root, split="val", size=config.size)
    agree = True
    judges = {}
    if not document["judges"]:
        raise ValueError(f"{path} lists no judges, so there is nothing to verify: restore it (git checkout) or "
                         "regenerate it with `spade-lesson ablate`")
    for record in document["judges"]:
        weights = check_judge_file(path, record["weights"])
        judges[record["seed"]] = load_segmenter(weights, device)
        trained_on = torch.load(weights, map_location="cpu", weights_only=True)["config"]["dataset"]
        if trained_on != dataset_fingerprint(train_data):
            raise ValueError(f"{weights}: this judge was trained on other data than {config.dataset!r} at size "
                             f"{config.size}; regenerate the results with `spade-lesson ablate`")
        got = ceiling(val_data, judges[record["seed"]], num_images=config.eval_images)["miou"]
        same = abs(got - record["ceiling_miou"]) < 1e-6
        agree &= same
        print(f"judge seed {record['seed']}: real-image mIoU {got:.6f}, committed {record['ceiling_miou']:.6f}: "
              f"{'agrees exactly' if same else 'DIFFERS'}")
    summaries = summarize(document)
    for model, seed in reruns:
        committed = {run["judge_seed"]: run["miou"] for run in document["runs"]
                     if (run["model"], run["seed"]) == (model, seed)}
        if not committed:
            raise ValueError(f"{path} holds no run of {model} seed {seed}: pick one of its runs to rerun")
        trainer = train_model(model, gan_config(config, seed), train_data, device, progress)
        tolerance = 2 * summaries[model].miou_seed_std
        for judge_seed, judge in judges.items():
            got = evaluate(trainer.ema, val_data, judge, num_images=config.eval_images)["miou"]
            difference = got - committed[judge_seed]
            within = abs(difference) <= tolerance
            agree &= within
            print(f"{model} seed {seed}, judge {judge_seed}: mIoU {got:.4f}, committed {committed[judge_seed]:.4f}, "
                  f"difference {difference:+.4f}: {'within' if within else 'OUTSIDE'} 2 x its seed std "
                  f"({tolerance:.4f})")
    return agree


def document_settings(path: Path) -> dict[str, Any]:
    """The settings stored in a results file (a clear error when it has none)."""
    return read_results_document(path, SETTINGS, MODELS)["settings"]


def write_figure(document: dict[str, Any], val_data: Dataset, work: Path, path: Path) -> None:
    """mIoU per model (each seed a dot, mean +- seed std, the judges' real-image ceilings as a band) above samples:
    label | real | each model's image of the same validation maps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summaries = summarize(document)
    seed = min(run["seed"] for run in document["runs"])
    samples = {model: torch.load(work / f"{model}-seed{seed}.pt", weights_only=True) for model in summaries
               if (work / f"{model}-seed{seed}.pt").is_file()}
    rows = min(SAMPLE_MAPS, len(val_data))
    columns = ["label map", "real"] + list(samples)
    figure = plt.figure(figsize=(1.15 * len(columns), 3.6 + 1.15 * rows), dpi=90)
    grid = figure.add_gridspec(rows + 1, len(columns), height_ratios=[2.6] + [1] * rows, hspace=0.6)
    chart = figure.add_subplot(grid[0, :])
    ceilings = [record["ceiling_miou"] for record in document["judges"]]
    chart.axhspan(min(ceilings), max(ceilings), color="0.85", label="real images (the judges' ceilings)")
    for x, (model, summary) in enumerate(summaries.items()):
        per_seed = [statistics.fmean(run["miou"] for run in document["runs"]
                                     if run["model"] == model and run["seed"] == s)
                    for s in sorted({run["seed"] for run in document["runs"] if run["model"] == model})]
        chart.plot([x] * len(per_seed), per_seed, "o", color="tab:blue", alpha=0.5, markersize=4)
        chart.errorbar(x + 0.15, summary.miou, yerr=summary.miou_seed_std, fmt="s", color="black", capsize=3,
                       markersize=4)
    chart.set_xticks(range(len(summaries)), list(summaries), fontsize=8)
    chart.tick_params(axis="x", pad=2)
    chart.set_ylabel("mIoU (judges averaged)", fontsize=8)
    chart.set_ylim(0, 1)
    chart.legend(fontsize=7, loc="lower left")
    settings = document["settings"]
    chart.set_title(f"{settings['dataset']} {settings['size']} px, {settings['steps']} steps per run; dots: seeds, "
                    f"squares: mean ± std over seeds ({len(ceilings)} judges); images below: seed {seed}", fontsize=8)
    for r in range(rows):
        item = val_data[r]
        pictures = [colorize(item["label"], val_data.palette), to_uint8(item["image"])]
        pictures += [to_uint8(samples[model][r]) for model in samples]
        for c, picture in enumerate(pictures):
            ax = figure.add_subplot(grid[r + 1, c])
            ax.imshow(picture.numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c], fontsize=7)
    try:
        with atomic_write(path, "wb") as file:
            figure.savefig(file, format="png", bbox_inches="tight")
    finally:
        plt.close(figure)


def report(document: dict[str, Any]) -> list[str]:
    """The summary lines the command prints: each model's scores, the ceilings, each claim's verdict."""
    summaries = summarize(document)
    lines = [f"{model:>15}: mIoU {mean_std(s.miou, s.miou_seed_std)} over {s.seeds} seeds (std over "
             f"{s.judges} judges {s.miou_judge_std:.3f}), pixel accuracy {mean_std(s.accuracy, s.accuracy_seed_std)}, "
             f"{s.params / 1e6:.2f}M parameters, {s.norm_macs / 1e6:.1f}M norm multiply-adds"
             for model, s in summaries.items()]
    lines += [f"{'real images':>15}: mIoU {record['ceiling_miou']:.3f} (judge seed {record['seed']})"
              for record in document["judges"]]
    lines += [f"{claim.name}: {measure(summaries, claim).verdict}" for claim in CLAIMS
              if claim.better in summaries and claim.worse in summaries]
    return lines

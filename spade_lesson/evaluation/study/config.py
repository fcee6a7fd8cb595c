"""The study's settings: `AblationConfig` (which variants, seeds, judges and budgets), and the one TrainConfig every
run trains with (`gan_config`): the CPU preset (spade_lesson.training.config.cpu_config) at the study's size, with the
settings the study's numbers depend on pinned here (`PINNED`), so that a change of the preset does not silently change
a study that is resumed.

The learning rate is constant (decay_start=None): each curve is ONE run scored at several budgets, and a decay tied to
the final step would make the 150-step record of a 2000-step run differ from a 150-step run. With a constant rate the
record at budget b is exactly what a run of b steps gives.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spade_lesson.models.variants import VARIANTS
from spade_lesson.training.config import TrainConfig, cpu_config, setting, shared

MODELS = tuple(VARIANTS)
RESULTS = Path(__file__).resolve().parents[1] / "results"  # the course's study, shipped with the package
COMMITTED = RESULTS / "ablation_landscapes.json"  # the one results file the course commits
BUDGETS = (150, 300, 600, 1000, 2000)  # log-spaced GAN steps at which every run is scored
# the settings the study's numbers depend on, whatever the CPU preset says today (official init, constant lr, no VGG)
PINNED = {"init_type": "xavier", "init_variance": 0.02, "lr_G": 1e-4, "lr_D": 4e-4, "beta1": 0.0, "beta2": 0.9,
          "decay_start": None, "ema_decay": 0.999, "lambda_feat": 10.0, "lambda_vgg": 0.0, "gan_mode": "hinge",
          "amp": "none"}
PRESET = ("size", "batch_size", "ngf", "spade_hidden")  # the preset's, unless the study is told otherwise
# TrainConfig fields that do not change a run's numbers (where it writes, how often it logs): not compared on resume
NOT_NUMBERS = ("out", "resume", "device", "seed", "steps", "checkpoint_every", "sample_every", "log_every",
               "max_seconds", "num_workers", "data_root")


@dataclass
class AblationConfig:
    """One study: `models` x `seeds`, each ONE run scored at every budget of `budgets` by each of the `judges`.

    size, batch_size, ngf and spade_hidden are the CPU preset's unless given (None); every other training setting is
    the preset's with PINNED on top.
    """

    dataset: str = shared("dataset")
    data_root: str = shared("data_root")
    size: int | None = setting(None, "image width; None: the CPU preset's (64)")
    batch_size: int | None = setting(None, "images per step; None: the CPU preset's (4)", flag="--batch")
    ngf: int | None = setting(None, "SPADE's width (each matched variant gets the width that matches its parameter "
                                    "count); None: the CPU preset's (16)")
    spade_hidden: int | None = setting(None, "SPADE's hidden width; None: the CPU preset's (32)")
    budgets: tuple[int, ...] = setting(BUDGETS, "GAN steps at which each run is scored (one run per seed)")
    seeds: tuple[int, ...] = setting((0, 1, 2), "generator seeds per model: 0, 1, ..., N-1")
    judges: tuple[int, ...] = setting((0, 1, 2), "segmenter seeds (the judges): 0, 1, ..., N-1")
    models: tuple[str, ...] = setting(MODELS, "models to train", choices=MODELS)
    eval_images: int = setting(256, "validation label maps scored per record (mIoU and KID)")
    segmenter_steps: int = setting(4000, "training steps of each judge (a U-Net trained on real images)")
    jobs: int = setting(1, "runs trained at once, each in its own process (2 on a 2-core CPU; several on one GPU)")
    device: str = shared("device")
    results: str = setting(str(COMMITTED), "the results JSON (resumed if there); its figure, samples and judges "
                                           "beside it")
    work: str = setting("runs/ablation", "folder for each run's checkpoints")

    def __post_init__(self) -> None:
        """Check the values with one-line errors naming the field."""
        unknown = [model for model in self.models if model not in MODELS]
        if unknown or not self.models:
            raise ValueError(f"models={self.models!r}: choose from {', '.join(MODELS)}")
        for name in ("seeds", "judges", "budgets"):
            values = getattr(self, name)
            if not values or len(set(values)) != len(values):
                raise ValueError(f"{name}={values!r}: pass at least one value, each once")
        if list(self.budgets) != sorted(self.budgets) or self.budgets[0] < 1:
            raise ValueError(f"budgets={self.budgets!r}: pass increasing step counts >= 1, e.g. 150 300 600")
        for name in ("eval_images", "segmenter_steps", "jobs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1")
        training = gan_config(self, self.seeds[0])  # the training settings, checked as training checks them
        if training.size < 64 and {"input_in", "spade_instance"} & set(self.models):
            raise ValueError(f"size={training.size}: InstanceNorm on the (size / 32)^2 start map needs more than one "
                             "pixel there; use size >= 64")

    def settings(self) -> dict[str, Any]:
        """The study's settings that decide its numbers (stored in the JSON, compared when resuming)."""
        return {"dataset": Path(self.dataset).name, "budgets": list(self.budgets), "eval_images": self.eval_images,
                "segmenter_steps": self.segmenter_steps}

    def training(self) -> dict[str, Any]:
        """The TrainConfig settings every run shares (stored in the JSON, compared when resuming)."""
        return {name: value for name, value in dataclasses.asdict(gan_config(self, 0)).items()
                if name not in NOT_NUMBERS}


def gan_config(config: AblationConfig, seed: int, out: str | Path = ".") -> TrainConfig:
    """The TrainConfig of the study's runs: cpu_config with the study's sizes (where given) and PINNED, to budget 1."""
    sizes = {name: getattr(config, name) for name in PRESET if getattr(config, name) is not None}
    return cpu_config(dataset=config.dataset, data_root=config.data_root, steps=config.budgets[-1], seed=seed,
                      device=config.device, out=str(out), checkpoint_every=config.budgets[-1], **sizes, **PINNED)


def work_folder(config: AblationConfig) -> Path:
    """<work>/<results stem>-<hash of the settings>: this study's runs, apart from other studies'."""
    text = json.dumps({**config.settings(), **config.training()}, sort_keys=True, default=str)
    return Path(config.work) / f"{Path(config.results).stem}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def run_folder(config: AblationConfig, model: str, seed: int) -> Path:
    """Where run (model, seed) keeps its checkpoint and its EMA generator at each budget."""
    return work_folder(config) / f"{model}-seed{seed}"

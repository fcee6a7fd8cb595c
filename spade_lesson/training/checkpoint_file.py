"""Checkpoints of a training run: everything needed to resume exactly, written atomically, read safely.

A checkpoint is a dict of plain tensors and numbers (torch.load(weights_only=True) reads it): step, config (the
TrainConfig as a dict), semantic_nc (the networks' input channels), label_nc (the label maps' classes; older
checkpoints lack it and equal semantic_nc), trainer (SPADETrainer.state_dict(): networks G, D, E, EMA, optimizers,
loss scalers) and rng (every random generator's state).
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spade_lesson.runtime.atomic import atomic_write
from spade_lesson.training.config import TrainConfig
from spade_lesson.training.trainer import SPADETrainer

CHECKPOINT_NAME = "checkpoint.pt"
# Fields a resumed run may change; every other field shapes the models or the data and must match the checkpoint.
RESUMABLE_CHANGES = ("steps", "decay_start", "checkpoint_every", "sample_every", "log_every", "max_seconds", "compile",
                     "one_hot_lookup", "device", "num_workers", "resume", "out", "init_type", "init_variance")


def rng_state() -> dict[str, Any]:
    """Every random generator's state (torch CPU and CUDA, NumPy, Python) as tensors and numbers."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "cached_gaussian": float(cached)},
        "python": {"version": version, "state": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what rng_state() captured."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy = state["numpy"]
    np.random.set_state(("MT19937", numpy["keys"].numpy().astype(np.uint32), numpy["pos"], numpy["has_gauss"],
                         numpy["cached_gaussian"]))
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"].tolist()), python["gauss"]))


def save_checkpoint(path: Path, trainer: SPADETrainer, step: int) -> None:
    """Write everything needed to resume exactly, atomically (a temporary file, then os.replace).

    The data order needs no state of its own: EpochSampler derives it from (seed, step).
    """
    state = {"step": step, "config": dataclasses.asdict(trainer.config), "semantic_nc": trainer.semantic_nc,
             "label_nc": trainer.label_nc, "trainer": trainer.state_dict(), "rng": rng_state()}
    with atomic_write(path) as file:
        torch.save(state, file)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint written by save_checkpoint, read with torch.load(weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint there; train first (spade-lesson train --out {path.parent})")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable spade-lesson checkpoint ({type(error).__name__}): pass the "
                         "checkpoint.pt a run wrote (a run's own, if damaged, is replaced only by training into a "
                         "new --out)") from None


def saved_config(state: dict[str, Any]) -> TrainConfig:
    """The TrainConfig a checkpoint was trained with (fields this code no longer has are dropped)."""
    names = {field.name for field in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{name: value for name, value in state["config"].items() if name in names})


def trained_label_nc(state: dict[str, Any]) -> int:
    """The classes of the label maps a checkpoint was trained on (before label_nc was saved the input was the
    one-hot map alone, so semantic_nc)."""
    return state.get("label_nc", state["semantic_nc"])


def load_trainer(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[SPADETrainer, int]:
    """(trainer with every network restored, step) from a checkpoint, e.g. to sample from its EMA generator."""
    state = load_checkpoint(path)
    config = saved_config(state)
    device = torch.device(device)
    trainer = SPADETrainer(dataclasses.replace(config, lambda_vgg=0.0), trained_label_nc(state), device,
                           config.image_size)
    trainer.load_state_dict(state["trainer"])
    return trainer, state["step"]


def resumable_state(path: str | os.PathLike) -> dict[str, Any]:
    """A full training checkpoint that --resume can continue; what it is instead, in one line, otherwise."""
    path = Path(path)
    state = load_checkpoint(path)
    if not isinstance(state, dict) or not {"config", "semantic_nc", "step", "trainer"} <= state.keys():
        tensors = isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values())
        what = (f"a state dict of {len(state)} tensors (an official latest_net_G.pth or an exported network?)"
                if tensors else f"a {type(state).__name__} without config, step and trainer")
        raise ValueError(f"{path} holds {what}, not a spade-lesson training checkpoint: --resume continues a run "
                         "that `spade-lesson train` wrote; train into a new --out")
    missing = [key for key in ("G", "D", "opt_G", "opt_D") if key not in state["trainer"]]
    if missing or "rng" not in state:
        raise ValueError(f"{path} is a slim sampling checkpoint (its EMA generator only, like the shipped "
                         f"landscapes64.pt): it has no {', '.join(missing or ['rng'])} to resume from; train into a "
                         f"new --out, or draw with it: spade-lesson sample --checkpoint {path}")
    names = {field.name for field in dataclasses.fields(TrainConfig)}
    unknown = {name: value for name, value in state["config"].items() if name not in names}
    if unknown:
        shown = ", ".join(f"{name}={value!r}" for name, value in unknown.items())
        raise ValueError(f"{path} was written with settings this version of spade-lesson does not know ({shown}): "
                         "resume it with the version that wrote it, or train into a new --out")
    return state


def resume_config(state: dict[str, Any], overrides: dict[str, Any], path: Path) -> TrainConfig:
    """The checkpoint's TrainConfig with the command line's changes; a decay_start the preset derived (steps // 2)
    follows a new --steps, one that was set is kept and must still fit."""
    saved = dataclasses.asdict(saved_config(state))
    overrides = dict(overrides)
    steps, decay_start = overrides.get("steps", saved["steps"]), saved["decay_start"]
    if "decay_start" not in overrides and decay_start is not None and steps != saved["steps"]:
        if decay_start == saved["steps"] // 2:  # what course_config / cpu_config derive when it is not set
            overrides["decay_start"] = steps // 2
        elif decay_start > steps:
            raise ValueError(f"{path} was trained with decay_start={decay_start}, after --steps {steps}: pass "
                             f"--decay-start (0 to {steps}) as well")
    return TrainConfig(**{**saved, **overrides})


def check_resumable(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    """Refuse to resume a checkpoint whose models or data differ from this config (a field the checkpoint predates
    counts as its default, which is how it was trained)."""
    defaults = dataclasses.asdict(TrainConfig())
    for name, value in dataclasses.asdict(config).items():
        trained = saved.get(name, defaults[name])
        if name not in RESUMABLE_CHANGES and trained != value:
            raise ValueError(f"{path} was trained with {name}={trained!r}, this run asks {name}={value!r}: "
                             "use the same settings to resume, or a new --out")

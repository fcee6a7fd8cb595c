"""Why SPADE starts slowly, measured: the size of a SPADE generator's modulation, mean |gamma(m)| and |beta(m)| over
its SPADE layers (Eq. 1: out = norm(x) * (1 + gamma) + beta), along the first steps of training, under the official
initialization (Xavier, gain 0.02: gamma and beta start near zero, so every block starts as a plain normalization
that ignores the label map) and under PyTorch's default (init_type none: they start at the size of the features).

`modulation(generator, label)` -> {"gamma", "beta"}; `modulation_curve(config, steps, init_type)` trains the study's
SPADE through the one loop, stopping at each of `steps` to measure it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from spade_lesson.data.batches import stack_items
from spade_lesson.data.semantic import one_hot
from spade_lesson.evaluation.study.config import AblationConfig, gan_config
from spade_lesson.evaluation.study.runner import build_generator
from spade_lesson.layers.initialization import init_weights
from spade_lesson.layers.spade import SPADE
from spade_lesson.runtime.atomic import write_text
from spade_lesson.runtime.machine import seed_everything
from spade_lesson.training.checkpoint_file import CHECKPOINT_NAME
from spade_lesson.training.loop import train

STEPS = (0, 25, 50, 100, 150, 200)  # where the curve is measured
INITS = ("xavier", "none")  # the official initialization, PyTorch's default


@torch.no_grad()
def modulation(generator: nn.Module, label: torch.Tensor, num_classes: int) -> dict[str, float]:
    """Mean |gamma| and mean |beta| over every SPADE layer of generator (each layer's mean, averaged) on label maps
    (N, H, W)."""
    sizes: dict[str, list[float]] = {"gamma": [], "beta": []}
    hooks = []
    for layer in generator.modules():
        if isinstance(layer, SPADE):
            for name in ("gamma", "beta"):
                conv = getattr(layer, f"mlp_{name}")
                hooks.append(conv.register_forward_hook(
                    lambda module, args, out, name=name: sizes[name].append(out.abs().mean().item())))
    was_training = generator.training
    generator.eval()
    try:
        generator(one_hot(label, num_classes))
    finally:
        for hook in hooks:
            hook.remove()
        generator.train(was_training)
    return {name: sum(values) / len(values) for name, values in sizes.items()}


def modulation_curve(config: AblationConfig, init_type: str, train_data: Dataset, val_data: Dataset,
                     work: Path, steps: tuple[int, ...] = STEPS, maps: int = 16) -> list[dict[str, Any]]:
    """[{"step", "gamma", "beta"}] of the study's SPADE (seed 0) trained from init_type, the EMA generator measured on
    the first `maps` validation maps at each of steps (one run, resumed from step to step)."""
    label = stack_items(val_data, maps)["label"]
    run = dataclasses.replace(gan_config(config, 0, out=work / init_type), init_type=init_type)
    curve = []
    for step in steps:
        seed_everything(0)
        generator = build_generator("spade", run, train_data.num_classes)
        if step == 0:  # as the trainer starts it
            ema = init_weights(generator, run.init_type, run.init_variance)
        else:
            resume = (Path(run.out) / CHECKPOINT_NAME).is_file()
            ema = train(dataclasses.replace(run, steps=step, resume=resume), generator=generator, data=train_data,
                        progress=False).trainer.ema
        curve.append({"step": step, **modulation(ema, label, train_data.num_classes)})
    return curve


def write_curves(config: AblationConfig, train_data: Dataset, val_data: Dataset, work: Path, path: Path,
                 inits: tuple[str, ...] = INITS) -> None:
    """The initializations' curves added to the JSON at path: {"training", "curves": {init_type: [{"step", "gamma",
    "beta"}]}} (each written as soon as it is measured)."""
    for init in inits:
        curve = modulation_curve(config, init, train_data, val_data, work)
        document = json.loads(path.read_text()) if path.is_file() else {"training": config.training(), "curves": {}}
        document["curves"][init] = curve
        write_text(path, json.dumps(document, indent=1) + "\n")

"""The course's shipped SPADE checkpoint, and a loader for it or any checkpoint `spade_lesson.training.loop` writes.

Writing and reading whole checkpoints (to resume) is spade_lesson.training.checkpoint_file.

`load_networks(path)` rebuilds the sampling (EMA) generator and, for use_vae runs, the image encoder, in eval mode.
`pick_checkpoint(*candidates)` is the first candidate that exists, else the shipped `SHIPPED` (Landscapes, 64 x 64).
`slim_checkpoint(source, target)` keeps only what sampling needs (what is shipped here); see README.md beside it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import torch

from spade_lesson.models.encoder import ConvEncoder
from spade_lesson.models.generator import SPADEGenerator
from spade_lesson.runtime.atomic import atomic_write
from spade_lesson.runtime.machine import pick_device
from spade_lesson.training.checkpoint_file import load_checkpoint, saved_config
from spade_lesson.training.networks import build_networks

SHIPPED = Path(__file__).with_name("landscapes64.pt")
KEPT = ("EMA", "E")  # the trainer's keys of the EMA generator and the encoder


class Networks(NamedTuple):
    """What sampling needs from a checkpoint: the EMA generator, the encoder (or None) and how they were trained."""

    generator: SPADEGenerator
    encoder: ConvEncoder | None
    config: dict[str, Any]
    step: int
    path: Path


def pick_checkpoint(*candidates: str | os.PathLike) -> Path:
    """The first candidate checkpoint file that exists, else the shipped one."""
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    return SHIPPED


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A trainer (or slim) checkpoint as a dict, read with torch.load(weights_only=True); one-line errors."""
    state = load_checkpoint(path)
    if not isinstance(state, dict) or not {"config", "semantic_nc", "step", "trainer"} <= state.keys() \
            or "EMA" not in state["trainer"]:
        raise ValueError(f"{path}: not a spade_lesson.training.loop checkpoint (needs config, semantic_nc, step and "
                         "trainer['EMA']); pass the checkpoint.pt of a training run")
    return state


def load_networks(path: str | os.PathLike = SHIPPED, device: str | torch.device = "cpu") -> Networks:
    """The EMA generator (and encoder, for use_vae runs) of a checkpoint, on `device`, in eval mode, no gradients."""
    device = pick_device(str(device))  # a device this machine lacks: one line, before anything is read
    state = read_checkpoint(path)
    nets = build_networks(saved_config(state), state["semantic_nc"], discriminator=False)
    generator = nets["G"]
    generator.load_state_dict(state["trainer"]["EMA"])
    encoder = nets.get("E")
    if encoder is not None:
        encoder.load_state_dict(state["trainer"]["E"])
        encoder = encoder.to(device).eval().requires_grad_(False)
    return Networks(generator.to(device).eval().requires_grad_(False), encoder, state["config"], state["step"],
                    Path(path))


def slim_checkpoint(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy a trainer checkpoint keeping only the EMA generator and encoder (no D, optimizers, RNG); atomic write."""
    state = read_checkpoint(source)
    slim = {"step": state["step"], "config": state["config"], "semantic_nc": state["semantic_nc"],
            "trainer": {key: value for key, value in state["trainer"].items() if key in KEPT}}
    target = Path(target)
    with atomic_write(target) as file:
        torch.save(slim, file)
    return target

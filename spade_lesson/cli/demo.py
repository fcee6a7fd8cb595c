"""`spade-lesson demo`: train a small SPADE generator on the offline dataset for ~2 min; draw label | ours | real."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from spade_lesson import cli
from spade_lesson.cli.parser import OneLineParser
from spade_lesson.data import load_dataset
from spade_lesson.data.pictures import sample_grid, write_png
from spade_lesson.runtime.atomic import check_folder, write_text
from spade_lesson.runtime.machine import idle_cpu_cores
from spade_lesson.training.checkpoint_file import CHECKPOINT_NAME
from spade_lesson.training.config import TrainConfig, course_config, cpu_config
from spade_lesson.training.loop import LOG_NAME, train

DEMO_SECONDS = 150.0  # the demo's whole run on a CPU, start-up included, leaving margin under 3 minutes
DEMO_ROWS = 6  # label maps (unseen in training) in the demo's picture
DEMO_PIXELS = 128  # each image of the demo's picture is drawn at least this wide
MARKER = ".spade-lesson-demo"  # the demo's mark on its --out: only a folder holding it is replaced by a later demo
EXPECT = ("what to expect: a blurry picture. A few minutes of training is a few hundred GAN steps at most on a CPU: "
          "the generated column follows the rough layout of each label map (where the horizon is, light sky over "
          "darker ground) but paints no texture, often with stripes and off colours. Notebook 05 trains longer and "
          "shows a checkpoint trained for 4000 steps beside its run.")


def demo_config(cuda: bool, out: str, steps: int | None, seconds: float) -> TrainConfig:
    """The demo's TrainConfig: the course preset on a GPU, the CPU preset on a CPU, shorter, constant lr, no VGG."""
    steps = steps if steps is not None else 3000 if cuda else 2000
    preset = course_config if cuda else cpu_config
    return preset(steps=steps, decay_start=None, lambda_vgg=0.0, out=out, max_seconds=seconds, checkpoint_every=steps,
                  sample_every=steps)


def claim(out: Path) -> None:
    """Make out the demo's: an earlier demo's run there is cleared; a run or picture the demo did not make, refused."""
    found = [name for name in (CHECKPOINT_NAME, LOG_NAME, "demo.png", "samples") if (out / name).exists()]
    if found and not (out / MARKER).is_file():
        raise ValueError(f"{out} holds {', '.join(found)} that spade-lesson demo did not make (a training run?): "
                         "pick another --out, or move them away")
    for name in (CHECKPOINT_NAME, LOG_NAME):  # the demo always starts afresh
        if (out / name).is_file():
            (out / name).unlink()
    check_folder(out)
    write_text(out / MARKER, "made by spade-lesson demo: a later demo may replace the run in this folder\n")


def run(argv: list[str]) -> int:
    """Train on Landscapes within the time budget, then write <out>/demo.png of label maps it never saw."""
    parser = OneLineParser(prog="spade-lesson demo",
                           description="Train a small SPADE generator on the offline Landscapes dataset (about "
                                       "3 minutes on a CPU, a bigger one on a GPU) and write a picture of label maps "
                                       "it never saw | its images | the real images.")
    parser.add_argument("--out", default="runs/demo", help="output folder; a previous demo there is replaced, "
                                                           "any other run refused (default: runs/demo)")
    parser.add_argument("--steps", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = Path(args.out)
    claim(out)
    cuda = torch.cuda.is_available()
    if not cuda:
        torch.set_num_threads(idle_cpu_cores())
    budget = DEMO_SECONDS - (time.perf_counter() - cli.STARTED) - 10.0  # 10 s for the picture and for leaving
    config = demo_config(cuda, str(out), args.steps, budget)
    print(f"spade-lesson demo: training SPADE on Landscapes {config.size}x{config.size} for at most "
          f"{config.steps} steps or {budget:.0f} s on {'CUDA' if cuda else 'the CPU'} ...", flush=True)
    print(EXPECT, flush=True)
    result = train(config)
    unseen = load_dataset("landscapes", split="val", size=config.size)
    items = [unseen[i] for i in range(DEMO_ROWS)]
    labels = torch.stack([item["label"] for item in items])
    images = torch.stack([item["image"] for item in items])
    fake = result.trainer.generate(labels, generator=torch.Generator(result.trainer.device).manual_seed(0))
    path = out / "demo.png"
    grid = sample_grid(labels, fake, images, result.palette)
    zoom = max(1, DEMO_PIXELS // config.size)  # small CPU images drawn with bigger (nearest) pixels
    write_png(grid.repeat_interleave(zoom, dim=0).repeat_interleave(zoom, dim=1), path)
    print(f"trained {result.step} steps in {result.seconds:.0f} s ({result.images_per_second:.1f} images/s)")
    print(f"wrote {path}  (columns: label map | generated | real; label maps not seen in training)")
    return 0

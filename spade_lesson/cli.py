"""The `spade-lesson` command: the course's jobs (demo, train, sample, download, assignments, ablate)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

STARTED = time.perf_counter()  # the demo's 3-minute budget counts from here
DEMO_SECONDS = 150.0  # the demo's whole run on a CPU, start-up included, leaving margin under 3 minutes
DEMO_ROWS = 6  # label maps (unseen in training) in the demo's picture
DEMO_PIXELS = 128  # each image of the demo's picture is drawn at least this wide


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (what is wrong, and where to read more)."""

    def error(self, message: str) -> NoReturn:
        """Print `prog: error: message (see prog -h)` and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


def demo_config(cuda: bool, out: str, steps: int | None, seconds: float) -> Any:
    """The demo's TrainConfig: the course preset on a GPU, the CPU preset on a CPU, shorter, constant lr, no VGG."""
    from spade_lesson.config import course_config, cpu_config

    steps = steps if steps is not None else 3000 if cuda else 2000
    preset = course_config if cuda else cpu_config
    return preset(steps=steps, decay_start=None, lambda_vgg=0.0, out=out, max_seconds=seconds, checkpoint_every=steps,
                  sample_every=steps)


def demo(argv: list[str]) -> int:
    """Train a small SPADE generator on the offline dataset for ~2 minutes and write label | generated | real."""
    parser = OneLineParser(prog="spade-lesson demo",
                           description="Train a small SPADE generator on the offline Landscapes dataset (about "
                                       "3 minutes on a CPU, a bigger one on a GPU) and write a picture of label maps "
                                       "it never saw | its images | the real images.")
    parser.add_argument("--out", default="runs/demo", help="output folder; a previous demo there is replaced "
                                                           "(default: runs/demo)")
    parser.add_argument("--steps", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import torch

    from spade_lesson.checkpoints.io import CHECKPOINT_NAME
    from spade_lesson.data import load_dataset
    from spade_lesson.data.pictures import sample_grid, write_png
    from spade_lesson.runtime import idle_cpu_cores
    from spade_lesson.train import LOG_NAME, train

    out = Path(args.out)
    for name in (CHECKPOINT_NAME, LOG_NAME):  # the demo always starts afresh
        if (out / name).is_file():
            (out / name).unlink()
    cuda = torch.cuda.is_available()
    if not cuda:
        torch.set_num_threads(idle_cpu_cores())
    budget = DEMO_SECONDS - (time.perf_counter() - STARTED) - 10.0  # 10 s for the picture and for leaving
    config = demo_config(cuda, str(out), args.steps, budget)
    print(f"spade-lesson demo: training SPADE on Landscapes {config.size}x{config.size} for at most "
          f"{config.steps} steps or {budget:.0f} s on {'CUDA' if cuda else 'the CPU'} ...", flush=True)
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


def train_command(argv: list[str]) -> int:
    """Train SPADE with the course's presets and any option overridden; --resume continues a run exactly."""
    import torch

    from spade_lesson.checkpoints.io import CHECKPOINT_NAME, load_checkpoint
    from spade_lesson.config import TrainConfig, course_config, cpu_config
    from spade_lesson.train import train

    parser = OneLineParser(prog="spade-lesson train", description="Train SPADE (Ctrl-C saves a checkpoint; "
                                                                  "multi-GPU: torchrun --nproc_per_node N -m "
                                                                  "spade_lesson.cli train ...).")
    parser.add_argument("--preset", choices=("course", "cpu"), default=None,
                        help="starting settings: course (GPU, 128 px) or cpu (64 px); default: course on CUDA")
    add = parser.add_argument
    add("--dataset", help="landscapes (offline), facades, ade20k, cityscapes, or a folder of images/ + labels/")
    add("--data-root", dest="data_root", help="where prepared datasets live (default: data)")
    add("--size", type=int, help="image size, a multiple of 32")
    add("--steps", type=int, help="optimizer steps")
    add("--batch", dest="batch_size", type=int, help="images per step (per process)")
    add("--ngf", type=int, help="generator width (official 64)")
    add("--ndf", type=int, help="discriminator width (official 64)")
    add("--spade-hidden", dest="spade_hidden", type=int, help="SPADE embedding width (official 128)")
    add("--num-D", dest="num_D", type=int, help="discriminator scales (2)")
    add("--n-layers-D", dest="n_layers_D", type=int, help="layers per discriminator (4)")
    add("--vae", dest="use_vae", action="store_true", default=None, help="train the style encoder too")
    add("--gan-mode", dest="gan_mode", choices=("hinge", "ls", "original"), help="adversarial loss (hinge)")
    add("--lambda-feat", dest="lambda_feat", type=float, help="feature matching weight (10)")
    add("--lambda-vgg", dest="lambda_vgg", type=float, help="VGG perceptual weight (10; 0 = off)")
    add("--lambda-kld", dest="lambda_kld", type=float, help="KL weight (0.05)")
    add("--lr-G", dest="lr_G", type=float, help="generator learning rate (1e-4)")
    add("--lr-D", dest="lr_D", type=float, help="discriminator learning rate (4e-4)")
    add("--beta1", type=float, help="Adam beta1 (0)")
    add("--beta2", type=float, help="Adam beta2 (0.9, the official code; the paper says 0.999)")
    add("--decay-start", dest="decay_start", type=int, help="step where the learning rates start falling to 0")
    add("--ema-decay", dest="ema_decay", type=float, help="decay of the generator's moving average (0.999)")
    add("--amp", choices=("auto", "bf16", "fp16", "none"), help="mixed precision on CUDA (auto)")
    add("--no-channels-last", dest="channels_last", action="store_false", default=None,
        help="keep NCHW tensors on CUDA")
    add("--compile", action="store_true", default=None, help="torch.compile G and D")
    add("--seed", type=int)
    add("--out", help="output folder (checkpoint.pt, losses.jsonl, samples/)")
    add("--checkpoint-every", dest="checkpoint_every", type=int)
    add("--sample-every", dest="sample_every", type=int)
    add("--log-every", dest="log_every", type=int)
    add("--max-minutes", dest="max_seconds", type=lambda text: 60.0 * float(text),
        help="stop (with a checkpoint) after this many minutes")
    add("--device", help="auto, cpu, cuda, cuda:1, mps")
    add("--workers", dest="num_workers", type=int, help="DataLoader worker processes")
    add("--resume", action="store_true", default=None, help="continue out/checkpoint.pt exactly where it stopped")
    args = parser.parse_args(argv)
    overrides = {key: value for key, value in vars(args).items() if value is not None and key != "preset"}
    preset = args.preset or ("course" if torch.cuda.is_available() else "cpu")
    base = course_config() if preset == "course" else cpu_config()
    if args.resume:
        out = Path(overrides.get("out", base.out))
        saved = load_checkpoint(out / CHECKPOINT_NAME)["config"]
        config = TrainConfig(**{**saved, **overrides})
    else:
        config = course_config(**overrides) if preset == "course" else cpu_config(**overrides)
    result = train(config)
    if os.environ.get("RANK", "0") != "0":  # under torchrun only the first process reports
        return 0
    print(f"trained to step {result.step} in {result.seconds:.0f} s; checkpoint {result.checkpoint}, "
          f"losses {result.log}" + (f", samples {result.samples[-1]}" if result.samples else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen job."""
    parser = OneLineParser(prog="spade-lesson", description="The SPADE course's command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="train a small SPADE generator on the offline dataset and write a picture",
                   add_help=False)
    sub.add_parser("train", help="train SPADE (see `spade-lesson train -h`)", add_help=False)
    sub.add_parser("sample", help="run an official SPADE checkpoint on label maps (see `spade-lesson sample -h`)",
                   add_help=False)
    sub.add_parser("download", help="download and prepare a real dataset (see `spade-lesson download -h`)",
                   add_help=False)
    sub.add_parser("assignments", help="write the student versions of the notebooks for a class "
                                       "(see `spade-lesson assignments -h`)", add_help=False)
    sub.add_parser("ablate", help="SPADE vs BatchNorm/InstanceNorm decoders, scored by a segmenter "
                                  "(see `spade-lesson ablate -h`)", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "download":
        from spade_lesson.data.download import main as download_main
        return download_main(rest)
    if args.command == "assignments":
        from spade_lesson.assignments import assignments_main
        return assignments_main(rest)
    if args.command == "ablate":
        from spade_lesson.ablation import ablate_main
        return ablate_main(rest)
    if args.command == "sample":
        from spade_lesson.official import sample_main
        return sample_main(rest)
    from spade_lesson.train import NonFiniteLossError

    job = demo if args.command == "demo" else train_command
    try:
        return job(rest)
    except (ValueError, FileNotFoundError, NonFiniteLossError) as error:
        print(f"spade-lesson {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

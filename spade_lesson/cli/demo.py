"""`spade-lesson demo`: train a small SPADE generator on the offline dataset for 150 s; draw label | ours | real."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from spade_lesson.cli.parser import OneLineParser
from spade_lesson.data import load_dataset
from spade_lesson.data.batches import stack_items
from spade_lesson.data.pictures import sample_grid, write_png
from spade_lesson.data.semantic import one_hot
from spade_lesson.evaluation.segmenter import ceiling, load_segmenter, score
from spade_lesson.evaluation.study.config import COMMITTED
from spade_lesson.evaluation.study.judges import judge_path
from spade_lesson.runtime.atomic import check_folder, write_text
from spade_lesson.runtime.machine import idle_cpu_cores
from spade_lesson.training.checkpoint_file import CHECKPOINT_NAME
from spade_lesson.training.config import TrainConfig, course_config, cpu_config
from spade_lesson.training.loop import LOG_NAME, train

DEMO_SECONDS = 150.0  # the demo's training time (time_to_quality.py's clock); start-up and the picture add ~6 s
DEMO_ROWS = 6  # label maps (unseen in training) in the demo's picture
DEMO_PIXELS = 128  # each image of the demo's picture is drawn at least this wide
SCORE_IMAGES = 64  # unseen label maps the judge reads back at the end (a few seconds on a CPU)
MARKER = ".spade-lesson-demo"  # the demo's mark on its --out: only a folder holding it is replaced by a later demo
JUDGE_SIZE = 64  # the judges were trained on 64 x 64 photos: pictures of other sizes are judged at 64
JUDGE_STEPS = 4000  # the course's judges: segmenters trained 4000 steps on the real Landscapes images (seeds 0, 1, 2)
COLUMNS = ("label map (unseen)", "generated", "real photo")
CAPTION = ("no style encoder: the generator draws every map in one look;", "the real photos each have their own")
EXPECT = ("what to expect, measured (benchmarks/time_to_quality_cpu.json: the median of 3 runs of 150 s of training "
          "on a quiet 2-core CPU with bf16 instructions): {steps} GAN steps, after which segmenters trained on real "
          "photos read {miou:.0%} of the layout back from the generated pictures (from the real photos: "
          "{ceiling:.0%}). A CPU without bf16 instructions makes about half the steps, a machine other jobs share "
          "fewer still. Notebook 05 trains longer and shows a checkpoint trained for 4000 steps beside its run.")
MEASURED = {"steps": 1035, "miou": 0.868, "ceiling": 0.934}  # the benchmark at 150 s (test_benchmarks checks)
LOSS_NAMES = ("the log's losses: D_fake and D_real, the discriminator's hinge loss on generated and on real pictures "
              "(each about 1 when it cannot tell them apart); G_GAN, the generator's adversarial loss; G_feat, "
              "feature matching x {lambda_feat:g} (how far the discriminator's features of a generated picture are "
              "from those of its real photo)")


def judge_files(seeds: tuple[int, ...] = (0, 1, 2)) -> list[Path]:
    """The course's judges shipped with the package: evaluation/results/judges/segmenter-<key of its settings>.pt."""
    train_data = load_dataset("landscapes", split="train", size=JUDGE_SIZE)
    return [judge_path(COMMITTED, train_data, JUDGE_STEPS, seed) for seed in seeds]


def demo_config(cuda: bool, out: str, steps: int | None, seconds: float | None) -> TrainConfig:
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
    config = demo_config(cuda, str(out), args.steps, DEMO_SECONDS)
    print(f"spade-lesson demo: training SPADE on Landscapes {config.size}x{config.size} for at most "
          f"{config.steps} steps or {DEMO_SECONDS:.0f} s on {'CUDA' if cuda else 'the CPU'} ...", flush=True)
    print(EXPECT.format(**MEASURED), flush=True)
    print(LOSS_NAMES.format(lambda_feat=config.lambda_feat), flush=True)
    result = train(config)
    unseen = load_dataset("landscapes", split="val", size=config.size)
    rows = stack_items(unseen, DEMO_ROWS)
    labels, images = rows["label"], rows["image"]
    fake = result.trainer.generate(labels, generator=torch.Generator(result.trainer.device).manual_seed(0))
    path = out / "demo.png"
    grid = sample_grid(labels, fake, images, result.palette)
    zoom = max(1, DEMO_PIXELS // config.size)  # small CPU images drawn with bigger (nearest) pixels
    write_png(titled(grid.repeat_interleave(zoom, dim=0).repeat_interleave(zoom, dim=1), COLUMNS, CAPTION), path)
    print(f"trained {result.step} steps in {result.seconds:.0f} s ({result.images_per_second:.1f} images/s)")
    print(f"wrote {path}  (columns: {' | '.join(COLUMNS)}; {' '.join(CAPTION)})")
    print(score_line(result.trainer.ema, config.size), flush=True)
    return 0


def titled(grid: torch.Tensor, titles: tuple[str, ...], caption: tuple[str, ...]) -> torch.Tensor:
    """grid: uint8 (H, W, 3) of len(titles) equal columns -> the same with each column's title drawn above it and
    the caption's lines below, (H + bands, W, 3)."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=12)
    except TypeError:  # Pillow before 10.1: the fixed bitmap font
        font = ImageFont.load_default()
    line = 16
    height, width = grid.shape[:2]
    canvas = Image.new("RGB", (width, height + line * (1 + len(caption)) + 4), "white")
    canvas.paste(Image.fromarray(grid.numpy()), (0, line))
    draw = ImageDraw.Draw(canvas)
    column = width / len(titles)
    for index, title in enumerate(titles):
        draw.text((column * (index + 0.5), line / 2), title, fill="black", font=font, anchor="mm")
    for index, text in enumerate(caption):
        draw.text((width / 2, height + line * (index + 1.5) + 2), text, fill="black", font=font, anchor="mm")
    return torch.from_numpy(np.asarray(canvas).copy())


@torch.no_grad()
def judged_pictures(generator: torch.nn.Module, label: torch.Tensor, size: int, num_classes: int) -> torch.Tensor:
    """The generator's pictures of label maps (N, h, w) at the judge's size: the maps enlarged (nearest) to the
    generator's `size`, drawn, and averaged back down to (N, 3, h, w) (at size == w, just the pictures)."""
    generator.eval()
    device = next(generator.parameters()).device
    big = F.interpolate(label[:, None].float(), size=(size, size), mode="nearest")[:, 0].long()
    picture = generator(one_hot(big.to(device), num_classes)).float().cpu()
    return F.adaptive_avg_pool2d(picture, tuple(label.shape[1:]))


def score_line(generator: torch.nn.Module, size: int) -> str:
    """One sentence reading the run's score: the first shipped judge's mIoU on SCORE_IMAGES unseen label maps, beside
    the same judge's on their real photos (pictures of another size are judged at the judge's 64 px)."""
    path = judge_files((0,))[0]
    if not path.is_file():
        return f"(no judge at {path}: the score is skipped; reinstall the package to get it back)"
    judge = load_segmenter(path)
    unseen = load_dataset("landscapes", split="val", size=JUDGE_SIZE)
    reads = score(judge, unseen, lambda label, image, instance: judged_pictures(generator, label, size,
                                                                                 unseen.num_classes),
                  SCORE_IMAGES)["miou"]
    real = ceiling(unseen, judge, SCORE_IMAGES)["miou"]
    return (f"the judge (a segmenter trained on real photos) reads {reads:.0%} of the layout back from this run's "
            f"pictures of {SCORE_IMAGES} unseen maps; from the real photos: {real:.0%} (mIoU)")

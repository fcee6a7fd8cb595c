"""Time to quality: how good the demo's pictures are after 60, 150, 300, 600 s of training on this machine.

The speed a learner feels is not the step time but the quality reached per minute. Each repeat trains the demo's
configuration (spade_lesson.cli.demo.demo_config, with --settings on top) ONCE, to the longest budget, and at each
budget's wall-clock mark pauses the clock and scores the EMA generator (the demo's sampling generator): one run per
repeat gives the whole curve, so the point at 60 s is the same run as the point at 600 s, not a separate run. The
clock counts training steps only (data, forward, backward, optimizer, EMA); building the networks and scoring are
outside it (`startup_s` records the former).

Scores, each a mean over the judges (the course's segmenters trained on real images, `--judges`):
- mIoU of the judge's reading of the generated images against their label maps (evaluation.segmenter.evaluate) on
  the validation split (label maps never seen in training);
- realism: KID x 1000 in the judge's features (evaluation.realism) between the generated images and the real
  training images (lower is more real).
Two reference rows calibrate both: the real validation images (the ceiling of mIoU, the floor of KID: about 0) and
the flat class-colour painter (evaluation.calibration: perfect layout, no texture, high KID).

Run: python benchmarks/time_to_quality.py --name demo [--settings '{"lr_G": 4e-4}'] [--budgets 60 150 300 600]
     [--repeats 3] [--threads N] [--judges a.pt b.pt] [--out benchmarks/time_to_quality_cpu.json]
Each finished repeat is written at once (atomically, under a lock, so two runs may share one JSON) and a rerun
resumes: a repeat already in the JSON for that name and settings is kept. --plot only redraws the PNG from the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from environment import environment  # noqa: E402  (benchmarks/ is no package)

from spade_lesson.cli.demo import JUDGE_SIZE, demo_config, judge_files, judged_pictures  # noqa: E402
from spade_lesson.data import load_dataset  # noqa: E402
from spade_lesson.data.batches import stack_items  # noqa: E402
from spade_lesson.evaluation.calibration import class_colours, flat_painter  # noqa: E402
from spade_lesson.evaluation.metrics import confusion_matrix, miou  # noqa: E402
from spade_lesson.evaluation.realism import judge_features, kid  # noqa: E402
from spade_lesson.evaluation.segmenter import UNet, load_segmenter, segment  # noqa: E402
from spade_lesson.runtime.atomic import write_text  # noqa: E402
from spade_lesson.runtime.machine import idle_cpu_cores, seed_everything  # noqa: E402
from spade_lesson.training.config import TrainConfig, cpu_has_bf16  # noqa: E402
from spade_lesson.training.trainer import SPADETrainer  # noqa: E402

HERE = Path(__file__).resolve().parent
BUDGETS = (60.0, 150.0, 300.0, 600.0)
EVAL_IMAGES = 256  # the whole validation split: mIoU and KID over 256 pictures


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else platform's guess)."""
    import platform

    try:
        return next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


class Judges:
    """The judges, the validation split and the real training images' features: what every snapshot is scored by."""

    def __init__(self, paths: list[Path], eval_images: int) -> None:
        self.paths = paths
        self.judges: list[UNet] = [load_segmenter(path) for path in paths]  # on the CPU: small, and cheap there
        self.val = load_dataset("landscapes", split="val", size=JUDGE_SIZE)
        train = load_dataset("landscapes", split="train", size=JUDGE_SIZE)
        self.count = min(eval_images, len(self.val))
        self.labels = stack_items(self.val, self.count)["label"]
        self.real = stack_items(train, min(eval_images, len(train)))["image"]  # KID's reference set: real, unseen here
        self.real_features = [judge_features(judge, self.real) for judge in self.judges]
        self.painter = flat_painter(class_colours(train))

    def pictures_scores(self, make_miou: Any, pictures: torch.Tensor) -> dict[str, Any]:
        """mIoU per judge (make_miou(judge) -> scores) and KID x 1000 per judge of pictures (N, 3, H, W)."""
        mious = [make_miou(judge)["miou"] for judge in self.judges]
        kids = [kid(judge_features(judge, pictures), real) for judge, real in zip(self.judges, self.real_features)]
        return {"miou": statistics.mean(mious), "realism_kid": statistics.mean(kids),
                "miou_per_judge": [round(value, 4) for value in mious],
                "realism_kid_per_judge": [round(value, 3) for value in kids]}

    def generator(self, generator: torch.nn.Module, size: int) -> dict[str, Any]:
        """The generator's scores on the validation label maps (eval mode, float32, judged at the judges' size)."""
        pictures = torch.cat([judged_pictures(generator, self.labels[i:i + 64], size, self.val.num_classes)
                              for i in range(0, self.count, 64)])
        return self.pictures_scores(lambda judge: self.layout(judge, pictures), pictures)

    def layout(self, judge: UNet, pictures: torch.Tensor) -> dict[str, float]:
        """{"miou"} of the judge's reading of pictures (N, 3, h, w) against the validation label maps (as evaluate)."""
        conf = sum(confusion_matrix(segment(judge, pictures[i:i + 64]), self.labels[i:i + 64], self.val.num_classes)
                   for i in range(0, self.count, 64))
        return {"miou": miou(conf)}

    def references(self) -> dict[str, dict[str, Any]]:
        """The two calibration rows: the real validation images and the flat class-colour painter."""
        real = stack_items(self.val, self.count)["image"]
        flat = self.painter(self.labels)
        return {"real images": self.pictures_scores(lambda judge: self.layout(judge, real), real),
                "flat class colours": self.pictures_scores(lambda judge: self.layout(judge, flat), flat)}


def batches(dataset: Any, batch_size: int, seed: int) -> Iterator[dict[str, torch.Tensor]]:
    """Endless shuffled batches of the dataset's items (kept in memory once rendered), a new order each epoch."""
    cache: dict[int, dict[str, torch.Tensor]] = {}
    order = torch.Generator().manual_seed(seed)
    while True:
        indices = torch.randperm(len(dataset), generator=order).tolist()
        for start in range(0, len(indices) - batch_size + 1, batch_size):
            chosen = indices[start:start + batch_size]
            items = [cache[i] if i in cache else cache.setdefault(i, dataset[i]) for i in chosen]
            yield {key: torch.stack([item[key] for item in items]) for key in ("label", "image")}


def base_config(device: torch.device) -> TrainConfig:
    """The demo's configuration on this device (the CPU preset on a CPU, the course preset on CUDA), unbounded."""
    return dataclasses.replace(demo_config(device.type == "cuda", "runs/time_to_quality", 10**9, None),
                               device=str(device))


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}  # cpu: this process's CPU seconds (all its threads)


def run_repeat(settings: dict[str, Any], budgets: list[float], judges: Judges, seed: int, device: torch.device,
               clock_name: str = "wall", progress: bool = True) -> dict[str, Any]:
    """Train once to the longest budget, scoring the EMA generator at each budget's mark (clock paused)."""
    timer = CLOCKS[clock_name]
    started = time.perf_counter()
    config = dataclasses.replace(base_config(device), **{"seed": seed, **settings})
    seed_everything(config.seed)
    data = load_dataset("landscapes", split="train", size=config.size)
    trainer = SPADETrainer(config, data.num_classes, device=device, image_size=config.image_size)
    stream = batches(data, config.batch_size, config.seed)
    startup = time.perf_counter() - started
    points, clock, wall, cpu, step = [], 0.0, 0.0, 0.0, 0
    for budget in budgets:
        while clock < budget:
            tick, tick_wall, tick_cpu = timer(), time.perf_counter(), time.process_time()
            batch = next(stream)
            trainer.step(batch["label"], batch["image"])
            if device.type == "cuda":
                torch.cuda.synchronize(device)  # the step's time, not its launch
            clock += timer() - tick
            wall += time.perf_counter() - tick_wall
            cpu += time.process_time() - tick_cpu
            step += 1
        scores = judges.generator(trainer.ema, config.size)
        points.append({"budget_s": budget, "steps": step, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), **scores})
        if progress:
            print(f"  {budget:5.0f} s: {step:5d} steps, mIoU {scores['miou']:.3f}, realism (KID x1000) "
                  f"{scores['realism_kid']:.1f}", flush=True)
    return {"seed": seed, "clock": clock_name, "config": dataclasses.asdict(config), "startup_s": round(startup, 1),
            "points": points,
            "load_average_end": round(os.getloadavg()[0], 2)}


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on <path>.lock: two benchmark processes may add their runs to one JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read(path: Path) -> dict[str, Any]:
    """The benchmark's JSON, or an empty document."""
    if not path.is_file():
        return {"runs": {}}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SystemExit(f"{path}: not readable JSON ({error}); move it away or pass another --out") from None


def summary(repeats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per budget: the median over repeats of steps, mIoU and realism, and their range."""
    rows = []
    for index, point in enumerate(repeats[0]["points"]):
        column = [repeat["points"][index] for repeat in repeats if len(repeat["points"]) > index]
        row = {"budget_s": point["budget_s"], "repeats": len(column)}
        for key in ("steps", "miou", "realism_kid"):
            values = [item[key] for item in column]
            row[key] = statistics.median(values)
            row[f"{key}_range"] = [min(values), max(values)]
        rows.append(row)
    return rows


def add_repeat(path: Path, name: str, settings: dict[str, Any], budgets: list[float], repeat: dict[str, Any],
               context: dict[str, Any]) -> None:
    """Add one finished repeat to the JSON (re-read under the lock, written atomically)."""
    with locked(path):
        document = read(path)
        document["protocol"] = PROTOCOL
        run = document["runs"].setdefault(name, {"settings": settings, "budgets_s": budgets, "repeats": []})
        run["repeats"] = [r for r in run["repeats"] if r["seed"] != repeat["seed"]] + [repeat]
        run["repeats"].sort(key=lambda r: r["seed"])
        run["summary"] = summary(run["repeats"])
        run.setdefault("context", []).append({**context, "seed": repeat["seed"]})
        write_text(path, json.dumps(document, indent=1) + "\n")


PROTOCOL = ("each repeat trains once to the longest budget and scores the EMA generator at each budget's wall-clock "
            "mark, the clock paused while scoring (one run per repeat gives the whole curve); the clock counts "
            "training steps only; mIoU on the validation split's label maps, realism = KID x 1000 in each judge's "
            "features against the real training images; scores are means over the judges; a repeat is a seed")


def plot(path: Path, png: Path) -> None:
    """mIoU and realism against training seconds for every run in the JSON, with the two reference rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    document = read(path)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for name, run in document["runs"].items():
        rows = run.get("summary", [])
        seconds = [row["budget_s"] for row in rows]
        for ax, key in zip(axes, ("miou", "realism_kid")):
            ax.plot(seconds, [row[key] for row in rows], marker="o", label=f"{name} (median of {rows[0]['repeats']})")
            ax.fill_between(seconds, [row[f"{key}_range"][0] for row in rows],
                            [row[f"{key}_range"][1] for row in rows], alpha=0.15)
    for style, (reference, scores) in zip(("--", ":"), document.get("references", {}).items()):
        for ax, key in zip(axes, ("miou", "realism_kid")):
            ax.axhline(scores[key], color="grey", linestyle=style, label=reference)
    axes[0].set_ylabel("layout: the judges' mIoU (higher is better)")
    axes[1].set_ylabel("realism: KID x 1000 (lower is better)")
    axes[1].set_yscale("symlog", linthresh=1.0)
    machine = document.get("machine", {})
    for ax in axes:
        ax.set_xlabel("training seconds (wall clock)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    arithmetic = "bf16 autocast" if machine.get("bf16_instructions") else "float32 (no bf16 instructions)"
    figure.suptitle(f"time to quality on {machine.get('cpu_model', '?')}, {machine.get('threads', '?')} thread(s), "
                    f"{arithmetic}", fontsize=9)
    figure.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp = png.with_name(png.name + ".tmp.png")
    figure.savefig(tmp)
    os.replace(tmp, png)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    """Parse the options, train and score each missing repeat, write the JSON and the plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="demo", help="the run's name in the JSON (default: demo)")
    parser.add_argument("--settings", default="{}", help="JSON of TrainConfig fields over the demo's configuration")
    parser.add_argument("--budgets", type=float, nargs="+", default=list(BUDGETS), help="training seconds to score at")
    parser.add_argument("--repeats", type=int, default=3, help="seeds 0..N-1, each one run to the longest budget")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="run these seeds only (default: 0..repeats-1): several processes may share the repeats")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the idle cores at start)")
    parser.add_argument("--judges", type=Path, nargs="+", default=None, help="segmenter .pt files (default: shipped)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cpu: the demo's CPU configuration; cuda: its GPU one (the course preset, 128 px)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="what a budget counts: wall-clock seconds (a quiet machine), or this process's CPU "
                             "seconds (a shared one: with 1 thread, what one quiet core would give)")
    parser.add_argument("--eval-images", type=int, default=EVAL_IMAGES, help="validation pictures scored per point")
    parser.add_argument("--out", type=Path, default=None,
                        help="the JSON to add to (default: benchmarks/time_to_quality_<device>.json)")
    parser.add_argument("--png", type=Path, default=None, help="the plot (default: the JSON's name, .png)")
    parser.add_argument("--plot", action="store_true", help="only redraw the plot from the JSON")
    args = parser.parse_args(argv)
    args.out = args.out or HERE / f"time_to_quality_{args.device}.json"
    png = args.png or args.out.with_suffix(".png")
    if args.plot:
        plot(args.out, png)
        print(f"wrote {png}")
        return 0
    device = torch.device("cuda" if args.device == "cuda" else "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: this torch sees no CUDA GPU; run it on a CUDA machine, or leave --device out")
    budgets = sorted(args.budgets)
    if budgets[0] <= 0 or args.repeats < 1:
        parser.error("--budgets must be positive and --repeats at least 1")
    try:
        settings = json.loads(args.settings)
        dataclasses.replace(base_config(device), **settings)
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        parser.error(f"--settings {args.settings!r}: {error}")
    paths = args.judges or judge_files()
    missing = [str(path) for path in paths if not Path(path).is_file()]
    if missing:
        parser.error(f"no judge at {', '.join(missing)}: pass --judges with segmenter files (train_segmenter's)")
    load_start = round(os.getloadavg()[0], 2)
    torch.set_num_threads(args.threads or idle_cpu_cores())
    judges = Judges([Path(path) for path in paths], args.eval_images)
    machine = {**environment(device), "cpu_model": cpu_model(), "threads": torch.get_num_threads(),
               "bf16_instructions": cpu_has_bf16()}
    with locked(args.out):
        document = read(args.out)
        document["machine"] = machine
        document["judges"] = [path.name for path in judges.paths]
        if "references" not in document:
            document["references"] = judges.references()
        write_text(args.out, json.dumps(document, indent=1) + "\n")
    done = {repeat["seed"] for repeat in document["runs"].get(args.name, {}).get("repeats", [])
            if document["runs"][args.name]["settings"] == settings
            and document["runs"][args.name]["budgets_s"] == budgets
            and repeat.get("clock", "wall") == args.clock}
    for seed in args.seeds if args.seeds is not None else range(args.repeats):
        if seed in done:
            print(f"{args.name} seed {seed}: in {args.out} already")
            continue
        print(f"{args.name} seed {seed}: training to {budgets[-1]:.0f} s on {torch.get_num_threads()} thread(s), "
              f"settings {settings}", flush=True)
        context = {"load_average_start": round(os.getloadavg()[0], 2), "threads": torch.get_num_threads(),
                   "cpu_model": machine["cpu_model"], "bf16_instructions": machine["bf16_instructions"],
                   "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load_average_at_launch": load_start}
        repeat = run_repeat(settings, budgets, judges, seed, device, args.clock)
        add_repeat(args.out, args.name, settings, budgets, repeat, context)
    with locked(args.out):  # two processes adding to one JSON draw its plot in turn
        plot(args.out, png)
    print(f"wrote {args.out} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

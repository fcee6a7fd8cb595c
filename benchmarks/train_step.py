"""SPADE training speed: images/s and peak memory of SPADETrainer.step, official regime against the optimized path.

Two model configs:
- course: the course's GPU preset (course_config): Landscapes-sized 128 x 128, ngf 32, batch 16, VGG loss on;
- cityscapes: the official Cityscapes setting: 256 x 512, ngf = ndf = 64, 35 classes + instance edges, VGG on.
Two regimes for each:
- fp32 eager: float32 with TF32 off (cuDNN would use TF32 by default from Ampere on), NCHW, no compilation, as
  the official code trains;
- optimized: amp "auto" (bf16 autocast on CUDA from Ampere on, fp16 before; float32 on a CPU) + channels_last +
  torch.compile, TF32 on.
Each case runs in its own process (clean peak memory: CUDA max_memory_allocated, or the process's peak RSS on a CPU)
on random label maps and images. The JSON records the device, torch, TF32 and thread settings of every case and
the speed-up of each config (optimized / fp32 eager images per second) from the same run.
Run: python benchmarks/train_step.py [--quick | --smoke] [--seconds S]; writes benchmarks/train_step_<cpu|cuda>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from environment import environment, set_tf32, tf32_settings, thread_settings  # noqa: E402  (no package)

from spade_lesson.course.notebook import describe_device  # noqa: E402
from spade_lesson.runtime.atomic import write_text  # noqa: E402
from spade_lesson.training.loop import SPADETrainer, course_config, idle_cpu_cores  # noqa: E402

HERE = Path(__file__).resolve().parent
CONFIGS = {
    "course": {"settings": {}, "semantic_nc": 9, "image_size": (128, 128)},
    "cityscapes": {"settings": {"ngf": 64, "ndf": 64, "size": 512, "aspect_ratio": 2.0, "num_upsampling_layers": "more",
                                "no_instance": False, "batch_size": 4},
                   "semantic_nc": 35, "image_size": (256, 512)},  # 35 label ids; the trainer adds the edge channel
}
# --smoke: both configs shrunk until a CPU runs a step in seconds, without compilation (proves the script runs)
SMOKE = {
    "course": {"settings": {"size": 32, "ngf": 8, "ndf": 8, "spade_hidden": 16, "batch_size": 2, "lambda_vgg": 0.0},
               "image_size": (32, 32)},
    "cityscapes": {"settings": {"size": 128, "ngf": 8, "ndf": 8, "spade_hidden": 16, "batch_size": 1,
                                "lambda_vgg": 0.0}, "image_size": (64, 128)},
}
REGIMES = {
    "fp32 eager": {"amp": "none", "channels_last": False, "compile": False, "tf32": False},
    "optimized": {"amp": "auto", "channels_last": True, "compile": True, "tf32": True},
}


def run_case(config_name: str, regime: str, warmup: int, steps: int, batch_size: int | None,
             smoke: bool = False) -> dict:
    """Time `steps` training steps after `warmup` ones (compilation happens there) in this process."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(idle_cpu_cores())  # threads beyond the idle cores only wait for each other
    spec = CONFIGS[config_name]
    if smoke:  # the config's own settings (aspect ratio, instance edges, ...), shrunk
        spec = {**spec, **SMOKE[config_name], "settings": {**spec["settings"], **SMOKE[config_name]["settings"]}}
    settings = {**spec["settings"], **REGIMES[regime], "device": device.type}
    set_tf32(settings.pop("tf32"))
    if smoke:
        settings["compile"] = False
    if batch_size is not None:
        settings["batch_size"] = batch_size
    config = course_config(**settings)
    torch.manual_seed(0)
    trainer = SPADETrainer(config, spec["semantic_nc"], device, spec["image_size"])
    height, width = spec["image_size"]
    label = torch.randint(0, spec["semantic_nc"], (config.batch_size, height, width))
    image = torch.rand(config.batch_size, 3, height, width) * 2 - 1
    started = time.perf_counter()
    for _ in range(warmup):
        trainer.step(label, image)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    warm_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(steps):
        losses = trainer.step(label, image)
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak, peak_kind = torch.cuda.max_memory_allocated(), "CUDA max_memory_allocated"
    else:
        peak, peak_kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "process peak RSS"
    seconds = time.perf_counter() - started
    return {
        "config": config_name, "regime": regime, "image_size": [height, width], "batch_size": config.batch_size,
        "ngf": config.ngf, "ndf": config.ndf, "semantic_nc": spec["semantic_nc"],
        "amp": str(trainer.amp_dtype).replace("torch.", "") if trainer.amp_dtype else "float32",
        "channels_last": trainer.memory_format == torch.channels_last, "compile": config.compile,
        "vgg_loss": trainer.vgg is not None, "warmup_steps": warmup, "timed_steps": steps,
        "warmup_seconds": round(warm_seconds, 2), "seconds_per_step": round(seconds / steps, 4),
        "images_per_s": round(steps * config.batch_size / seconds, 3),
        "peak_memory_gib": round(peak / 2**30, 3), "peak_memory_kind": peak_kind,
        "finite_losses": all(torch.isfinite(value).item() for value in losses.values()),
        "device": describe_device(device), "tf32": tf32_settings(), "threads": thread_settings(),
    }


def speedups(results: list[dict]) -> dict[str, float | None]:
    """Per config: optimized images/s over fp32 eager images/s, from this run (None where a case failed)."""
    speed = {(r["config"], r["regime"]): r.get("images_per_s") for r in results}
    ratios = {}
    for config_name in CONFIGS:
        eager, optimized = speed.get((config_name, "fp32 eager")), speed.get((config_name, "optimized"))
        ratios[f"{config_name}: optimized / fp32 eager"] = round(optimized / eager, 2) if eager and optimized else None
    return ratios


def main(argv: list[str] | None = None) -> int:
    """Run every (config, regime) case in a fresh process and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1 warm-up + 2 timed steps, batch 1 for the cityscapes config (a CPU smoke run)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny networks, 1 warm-up + 1 timed step, no compilation: proves the script runs")
    parser.add_argument("--seconds", type=float, default=None,
                        help="time for all cases together; a case still running then is stopped and recorded")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default: benchmarks/train_step_<kind>.json)")
    parser.add_argument("--case", nargs=2, metavar=("CONFIG", "REGIME"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    if args.smoke:
        warmup, steps = 1, 1
    else:
        warmup, steps = (1, 2) if args.quick else (5 if cuda else 2, 20 if cuda else 5)
    if args.case:
        config_name, regime = args.case
        batch_size = 1 if args.quick and config_name == "cityscapes" else None
        print(json.dumps(run_case(config_name, regime, warmup, steps, batch_size, smoke=args.smoke)))
        return 0
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    flags = ["--quick"] * args.quick + ["--smoke"] * args.smoke
    results = []
    for config_name in CONFIGS:
        for regime in REGIMES:
            results.append(run_in_process(config_name, regime, flags, deadline))
            print(json.dumps(results[-1]), flush=True)
    device = torch.device("cuda" if cuda else "cpu")
    record = {
        **environment(device),
        "quick": args.quick,
        "smoke": args.smoke,
        "note": ("random label maps and images; optimized = amp auto (bf16/fp16 autocast on CUDA, float32 on a CPU) "
                 "+ channels_last + torch.compile, TF32 on; fp32 eager has TF32 off; the VGG loss runs only where "
                 "its ImageNet weights are available; each case's own settings are in its result"),
        "ratios": speedups(results),
        "results": results,
    }
    out = args.out or HERE / f"train_step_{device.type}.json"
    write_text(out, json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def run_in_process(config_name: str, regime: str, flags: list[str], deadline: float | None) -> dict:
    """One case in a fresh process (clean peak memory), stopped at the deadline; its result or its error."""
    command = [sys.executable, __file__, "--case", config_name, regime, *flags]
    timeout = None if deadline is None else deadline - time.monotonic()
    if timeout is not None and timeout <= 0:
        return {"config": config_name, "regime": regime, "error": "not run: the --seconds budget was spent"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"config": config_name, "regime": regime,
                "error": f"stopped after {timeout:.0f} s, the rest of the --seconds budget"}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        return {"config": config_name, "regime": regime, "error": tail}
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main())

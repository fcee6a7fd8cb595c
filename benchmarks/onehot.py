"""One-hot label maps as lookups (spade_lesson.layers.onehot) against the plain path, at 9, 151 and 182 classes.

Cases (each at 9 = Landscapes, 151 = ADE20K and 182 = COCO-Stuff classes):
- first conv: SPADE's mlp_shared conv (classes -> 128, 3 x 3) on a batch of 128 x 128 maps, forward + backward
  (weight and bias gradients, the upstream gradient in NCHW), the plain conv against the lookups alone (at every
  class count: this is where LOOKUP_MIN_CLASSES comes from); the lookup's bags are built once per resolution and
  step and shared by the SPADE layers there, so they are timed apart (bags_ms);
- label resizes: what a course generator's SPADE layers need in one forward: the one-hot map and one nearest
  resize of it per SPADE layer (as before this path existed), against the ids and one resize per resolution;
- G+D step: one whole SPADETrainer.step (D, then G, then the EMA) at the course's 128 px, ngf = ndf = 32, SPADE
  hidden 128, 2 x 4-layer discriminators, no VGG, fp32, with one_hot_lookup off (plain convs over the one-hot map,
  which the generator now also resizes once per resolution) against on (lookups from LOOKUP_MIN_CLASSES classes,
  the plain conv over the SegMap's dense form below).
ratio = plain time / lookup time (above 1: the lookup is faster), the median over rounds that alternate which path
runs first (each path repeated within a round to last 0.1 s, 0.2 s on CUDA), with the range over those rounds.
On a CPU the clock is this process's CPU time (one thread unless --threads says otherwise), on CUDA wall time with
synchronization. TF32 is off (fp32 throughout).
Run: python benchmarks/onehot.py [--smoke] [--out PATH]; writes benchmarks/onehot_<cpu|cuda>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from environment import environment, set_tf32  # noqa: E402  (benchmarks/ is no package)

from spade_lesson.data import one_hot  # noqa: E402
from spade_lesson.layers.onehot import LOOKUP_MIN_CLASSES, OneHotConv2d, SegMap, one_hot_conv2d  # noqa: E402
from spade_lesson.models.generator import decoder_plan, latent_size  # noqa: E402
from spade_lesson.runtime.atomic import write_text  # noqa: E402
from spade_lesson.training.loop import SPADETrainer, course_config  # noqa: E402

HERE = Path(__file__).resolve().parent
CLASSES = (9, 151, 182)


def make_clock(device: torch.device) -> Callable[[], float]:
    """Seconds: this process's CPU time on a CPU, wall time after synchronizing on CUDA."""
    if device.type == "cuda":
        return lambda: (torch.cuda.synchronize(device), time.perf_counter())[1]
    return time.process_time


def compare(plain: Callable[[], object], lookup: Callable[[], object], rounds: int, min_seconds: float,
            clock: Callable[[], float]) -> dict[str, object]:
    """Time both paths in alternating rounds, each call repeated to last min_seconds; median times, ratio, range."""
    paths = {"plain": plain, "lookup": lookup}
    repeats = {}
    for name, function in paths.items():  # the warm-up call also sizes the repeats
        started = clock()
        function()
        repeats[name] = max(1, math.ceil(min_seconds / max(clock() - started, 1e-6)))
    times: dict[str, list[float]] = {"plain": [], "lookup": []}
    for round_ in range(rounds):
        for name in ("plain", "lookup") if round_ % 2 == 0 else ("lookup", "plain"):
            started = clock()
            for _ in range(repeats[name]):
                paths[name]()
            times[name].append((clock() - started) / repeats[name])
    ratios = [p / q for p, q in zip(times["plain"], times["lookup"])]
    return {"plain_ms": round(1000 * statistics.median(times["plain"]), 2),
            "lookup_ms": round(1000 * statistics.median(times["lookup"]), 2),
            "ratio": round(statistics.median(ratios), 2), "ratio_range": [round(min(ratios), 2), round(max(ratios), 2)],
            "rounds": rounds, "repeats": repeats}


def first_conv(classes: int, batch: int, size: int, device: torch.device, rounds: int, min_seconds: float,
               clock: Callable[[], float]) -> dict[str, object]:
    """SPADE's first conv, plain (F.conv2d on the one-hot map) against the lookups alone, forward + backward."""
    torch.manual_seed(classes)
    conv = OneHotConv2d(classes, 128, kernel_size=3, padding=1).to(device)
    label = torch.randint(0, classes, (batch, size, size), device=device)
    dense = one_hot(label, classes).contiguous()  # NCHW, as the trainer feeds it
    segmap = SegMap.from_labels(label, classes)
    upstream = torch.randn(batch, 128, size, size, device=device)

    def step(x: torch.Tensor | SegMap) -> tuple[torch.Tensor, torch.Tensor]:
        conv.zero_grad(set_to_none=True)
        # the lookups at every class count (OneHotConv2d itself takes the plain conv below LOOKUP_MIN_CLASSES)
        out = conv(x) if isinstance(x, torch.Tensor) else one_hot_conv2d(x, conv.weight, conv.bias, padding=(1, 1))
        out.backward(upstream)
        return out.detach(), conv.weight.grad

    out_plain, grad_plain = step(dense)
    out_lookup, grad_lookup = step(segmap)
    started = clock()
    SegMap.from_labels(label, classes).bags((3, 3), (1, 1), (1, 1), (1, 1, 1, 1), "zeros")
    bags_seconds = clock() - started
    return {"case": "first conv", "classes": classes, "batch": batch, "size": size,
            **compare(lambda: step(dense), lambda: step(segmap), rounds, min_seconds, clock),
            "bags_ms": round(1000 * bags_seconds, 1),
            "max_abs_diff_out": float((out_plain - out_lookup).abs().max()),
            "max_rel_diff_weight_grad": float((grad_plain - grad_lookup).abs().max() / grad_plain.abs().max())}


def label_resizes(classes: int, batch: int, size: int, device: torch.device, rounds: int, min_seconds: float,
                  clock: Callable[[], float]) -> dict[str, object]:
    """The label maps a course generator (ngf 32) reads in one forward: per SPADE layer, or per resolution."""
    start = latent_size(size, 1.0, "normal")
    sizes = [start]  # the first conv `fc` reads the map at the start size
    for block in decoder_plan(32, "normal"):
        if block.upsample:
            start = (start[0] * 2, start[1] * 2)
        sizes += [start] * (2 + (block.in_channels != block.out_channels))  # norm_0, norm_1 (and norm_s)
    label = torch.randint(0, classes, (batch, size, size), device=device)

    def plain() -> list[torch.Tensor]:
        dense = one_hot(label, classes).contiguous()  # NCHW, as the trainer makes it once per step
        return [F.interpolate(dense, size=s, mode="nearest") for s in sizes]

    def lookup() -> list[SegMap]:
        segmap = SegMap.from_labels(label, classes)
        return [segmap.resized(s) for s in sizes]

    same = all(torch.equal(p, q.dense()) for p, q in zip(plain(), lookup()))
    return {"case": "label resizes", "classes": classes, "batch": batch, "size": size,
            "resizes_plain": len(sizes), "resizes_lookup": len(set(sizes)) - (tuple(sizes[-1]) == (size, size)),
            **compare(plain, lookup, rounds, min_seconds, clock), "identical": same}


def gd_step(classes: int, batch: int, size: int, device: torch.device, rounds: int, min_seconds: float,
            clock: Callable[[], float]) -> dict[str, object]:
    """One whole training step (D, then G, then the EMA) of the same trainer, one_hot_lookup off against on."""
    settings = {"size": size, "batch_size": batch, "ngf": 32, "ndf": 32, "spade_hidden": 128, "num_D": 2,
                "n_layers_D": 4, "lambda_vgg": 0.0, "amp": "none", "compile": False, "device": str(device)}
    trainers = {}
    for lookup in (False, True):
        torch.manual_seed(0)
        trainers[lookup] = SPADETrainer(course_config(**settings, one_hot_lookup=lookup), classes, device)
    generator = torch.Generator().manual_seed(classes)
    label = torch.randint(0, classes, (batch, size, size), generator=generator)
    image = torch.rand(batch, 3, size, size, generator=generator) * 2 - 1
    first = {lookup: trainer.step(label, image) for lookup, trainer in trainers.items()}  # same weights, same batch
    config = trainers[True].config
    return {"case": "G+D step", "classes": classes, "batch": batch, "size": size, "ngf": config.ngf,
            "ndf": config.ndf, "spade_hidden": config.spade_hidden, "num_D": config.num_D,
            "n_layers_D": config.n_layers_D, "channels_last": config.channels_last, "vgg_loss": False,
            **compare(lambda: trainers[False].step(label, image), lambda: trainers[True].step(label, image),
                      rounds, min_seconds, clock),
            "max_abs_diff_first_losses": max(float((first[True][k] - first[False][k]).abs()) for k in first[True])}


def main(argv: list[str] | None = None) -> int:
    """Run every case at 9, 151 and 182 classes and write one JSON with the environment and every ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny maps, one round: proves the script runs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on a CPU (default 1)")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default: benchmarks/onehot_<kind>.json)")
    args = parser.parse_args(argv)
    device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    set_tf32(False)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    clock = make_clock(device)
    if args.smoke:
        plans = {case: (2, 32, 1, 0.0) for case in CASES}
    elif device.type == "cuda":
        plans = {first_conv: (16, 128, 7, 0.2), label_resizes: (16, 128, 7, 0.2), gd_step: (16, 128, 5, 0.5)}
    else:
        plans = {first_conv: (4, 128, 5, 0.1), label_resizes: (4, 128, 5, 0.1), gd_step: (4, 128, 3, 0.0)}
    results = []
    for case in CASES:
        batch, size, rounds, min_seconds = plans[case]
        for classes in CLASSES:
            results.append(case(classes, batch, size, device, rounds, min_seconds, clock))
            print(json.dumps(results[-1]), flush=True)
    record = {
        **environment(device),
        "clock": "wall time, CUDA synchronized" if device.type == "cuda" else "process CPU time",
        "smoke": args.smoke,
        "note": "ratio = plain / lookup time (above 1: the lookup path is faster); random label maps",
        "lookup_min_classes": LOOKUP_MIN_CLASSES,
        "ratios": {f"{r['case']} @ {r['classes']} classes": r["ratio"] for r in results},
        "results": results,
    }
    out = args.out or HERE / f"onehot_{device.type}.json"
    write_text(out, json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


CASES = (first_conv, label_resizes, gd_step)

if __name__ == "__main__":
    sys.exit(main())

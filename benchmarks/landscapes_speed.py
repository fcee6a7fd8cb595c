"""How many fresh Landscapes (label, image) pairs one thread renders per CPU second, at 128x128 and 256x256.

Run: python benchmarks/landscapes_speed.py   (writes benchmarks/landscapes_speed.json: the median and the range over
--repeats passes, each over --items items never rendered before; CPU seconds from time.process_time, so other jobs
sharing the core slow the wall clock, not the count)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from spade_lesson.course.notebook import describe_device
from spade_lesson.data import Landscapes
from spade_lesson.runtime.atomic import write_text

SIZES = (128, 256)


def pairs_per_second(size: int, items: int, repeats: int) -> tuple[list[float], list[float]]:
    """Pairs per wall-clock second and per CPU second of each of `repeats` passes over `items` fresh items."""
    dataset = Landscapes(size=size, length=items * (repeats + 1))
    for index in range(5):
        dataset[index]
    wall, cpu = [], []
    for repeat in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        for index in range(items * (repeat + 1), items * (repeat + 2)):
            dataset[index]
        wall.append(items / (time.perf_counter() - start))
        cpu.append(items / (time.process_time() - start_cpu))
    return wall, cpu


def write_json(path: Path, record: dict) -> None:
    """Write record as JSON atomically (temp file in the same folder, then replace)."""
    write_text(path, json.dumps(record, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Pin the process to one core and one thread, time rendering, print and save pairs per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100, help="pairs per timed pass at 128x128 (a quarter at 256)")
    parser.add_argument("--repeats", type=int, default=10, help="timed passes per size (median and range kept)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_suffix(".json"), help="where to write JSON")
    args = parser.parse_args(argv)
    if args.items < 1 or args.repeats < 1:
        parser.error("--items and --repeats must be at least 1")
    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    record: dict = {}
    for size in SIZES:
        items = args.items if size == 128 else max(1, args.items // 4)
        wall, cpu = pairs_per_second(size, items, args.repeats)
        record[f"pairs_per_s_{size}"] = round(statistics.median(wall))
        record[f"pairs_per_cpu_s_{size}"] = round(statistics.median(cpu))  # what a core of our own would do
        record[f"pairs_per_cpu_s_{size}_range"] = [round(min(cpu)), round(max(cpu))]
        print(f"{size}x{size}: {statistics.median(cpu):.0f} pairs per CPU second (median of {args.repeats} passes of "
              f"{items} fresh pairs; {min(cpu):.0f} to {max(cpu):.0f}), {statistics.median(wall):.0f} per wall second")
    record.update({
        "device": describe_device(torch.device("cpu")),
        "threads": 1,
        "items_128": args.items,
        "repeats": args.repeats,
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
    })
    write_json(args.out, record)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

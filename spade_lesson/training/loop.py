"""Training SPADE (Park et al., CVPR 2019, Sec. 3 and 4): the loop around the GAN step.

`train(config)` feeds a SPADETrainer (spade_lesson.training.trainer) batches, logs, samples, checkpoints
(spade_lesson.training.checkpoint_file), stops on a NaN loss, Ctrl-C or a time limit, resumes exactly, and runs under
`torchrun`
(DistributedDataParallel, one process per GPU, or gloo on CPU). `train(config, generator=...)` trains another
generator (the ablation's baselines) through the same loop. The settings and presets are spade_lesson.training.config's.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from spade_lesson.data import load_dataset
from spade_lesson.data.pictures import sample_grid, write_png
from spade_lesson.runtime.atomic import atomic_write, check_folder, remove_stale_temporaries
from spade_lesson.runtime.machine import any_process, idle_cpu_cores, init_distributed, pick_device, seed_everything
from spade_lesson.runtime.progress import end_early, progress_bar
from spade_lesson.training.checkpoint_file import (
    CHECKPOINT_NAME,
    check_resumable,
    resumable_state,
    save_checkpoint,
    set_rng_state,
)
from spade_lesson.training.config import TrainConfig, course_config, cpu_config, fast_config
from spade_lesson.training.trainer import SPADETrainer

__all__ = ["NonFiniteLossError", "SPADETrainer", "TrainConfig", "TrainResult", "course_config", "cpu_config",
           "fast_config", "idle_cpu_cores", "plot_losses", "train"]  # the names notebooks import from here

LOG_NAME = "losses.jsonl"
SAMPLE_ROWS = 4  # label maps in every sample grid
CACHE_BYTES = 2**30  # datasets smaller than this stay in memory once loaded (without DataLoader workers)


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or inf: the run stopped and kept its last good checkpoint."""


@dataclass
class TrainResult:
    """What a finished run leaves behind: paths, the final step and losses, and the trained networks."""

    out: Path
    checkpoint: Path
    log: Path
    samples: list[Path]
    step: int
    losses: dict[str, float]
    trainer: SPADETrainer
    class_names: list[str]
    palette: list[tuple[int, int, int]]
    seconds: float
    images_per_second: float


def plot_losses(log_path: str | os.PathLike, ax: Any = None) -> Any:
    """Plot every loss column of a training log (losses.jsonl) against the step; returns the matplotlib axes."""
    import matplotlib.pyplot as plt

    path = Path(log_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no loss log there; train first (it is written to <out>/{LOG_NAME})")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5), dpi=90)
    names = [key for key in rows[0] if key.startswith(("D_", "G_"))] if rows else []
    for name in names:
        ax.plot([row["step"] for row in rows if name in row], [row[name] for row in rows if name in row], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (weighted)")
    ax.legend(fontsize=8, ncol=3)
    ax.grid(alpha=0.3)
    return ax


class MemoryCache(Dataset):
    """A dataset whose items are kept once made: procedural Landscapes are painted once, not once per epoch."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.items: dict[int, dict[str, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if index not in self.items:
            self.items[index] = self.dataset[index]
        return self.items[index]


class EpochSampler(Sampler[int]):
    """This process's indices of one epoch from `start_batch` on: the order is a pure function of (seed, epoch)."""

    def __init__(self, dataset: Dataset, batch_size: int, rank: int, world_size: int, seed: int) -> None:
        self.batch_size = batch_size
        self.epoch, self.start_batch = 0, 0
        self.sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed,
                                          drop_last=True)
        self.batches_per_epoch = len(self.sampler) // batch_size

    def set_position(self, epoch: int, start_batch: int) -> None:
        """The next iteration yields epoch `epoch` from batch `start_batch` on (used after a resume)."""
        self.epoch, self.start_batch = epoch, start_batch

    def __iter__(self) -> Iterator[int]:
        self.sampler.set_epoch(self.epoch)
        indices = list(self.sampler)[: self.batches_per_epoch * self.batch_size]
        return iter(indices[self.start_batch * self.batch_size:])

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.batch_size


class StopFlag:
    """Set by the first Ctrl-C (SIGINT) so the loop stops at the end of a step; a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self.previous = None

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def handle(self, signum: int, frame: Any) -> None:
        """First Ctrl-C: ask the loop to save and stop; the next one raises KeyboardInterrupt right away."""
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def train(config: TrainConfig, generator: nn.Module | None = None, data: Dataset | None = None,
          progress: bool = True) -> TrainResult:
    """Train SPADE as configured; resumable, Ctrl-C safe, multi-GPU under torchrun. Returns what it made.

    generator: train this one instead (anything with forward(semantic, z=None), e.g. a baseline); the checkpoint then
    holds its weights, so resume with the same kind of generator. data: the training split (items {"label", "image"}
    and optionally "instance", with num_classes, class_names, palette), default load_dataset(config.dataset, ...).
    progress: the progress bar.
    """
    out = Path(config.out)
    device = pick_device(config.device)
    rank, world_size, started_group = init_distributed(device)
    try:
        return _train(config, out, device, rank, world_size, generator, data, progress)
    finally:
        if started_group:
            dist.destroy_process_group()


def _train(config: TrainConfig, out: Path, device: torch.device, rank: int, world_size: int,
           generator: nn.Module | None, data: Dataset | None, progress: bool) -> TrainResult:
    """train() inside the process group (if any): this process is `rank` of `world_size`, on `device`."""
    is_main = rank == 0
    if is_main:
        check_folder(out)
    checkpoint_path, log_path = out / CHECKPOINT_NAME, out / LOG_NAME
    saved = None
    if config.resume:
        saved = resumable_state(checkpoint_path)
        check_resumable(saved["config"], config, checkpoint_path)
    elif is_main and checkpoint_path.exists():
        raise ValueError(f"{checkpoint_path} exists: pass resume=True (--resume) to continue it, or a new --out")
    if is_main:  # what killed writes left, and the log of a run that died before its first checkpoint, go
        for folder in (out, out / "samples"):
            remove_stale_temporaries(folder)

    seed_everything(config.seed)
    height, width = config.image_size
    preprocess = config.preprocess()
    source = data if data is not None else load_dataset(
        config.dataset, root=config.data_root, split="train", num_classes=config.num_classes, preprocess=preprocess,
        size=config.size if height == width else (height, width))  # an int: square datasets (Landscapes) take it
    label_nc = None if saved is None else saved.get("label_nc", saved["semantic_nc"])  # older ones: semantic_nc
    if label_nc is not None and label_nc != source.num_classes:
        raise ValueError(f"{checkpoint_path} was trained on {label_nc} classes, but dataset {config.dataset!r} now "
                         f"has {source.num_classes}: resume with the data it was trained on, or train into a new --out")
    first = source[0]
    if tuple(first["image"].shape[1:]) != (height, width):
        raise ValueError(f"the dataset's images are {first['image'].shape[1]} x {first['image'].shape[2]} but "
                         f"size={config.size}, aspect_ratio={config.aspect_ratio} make {height} x {width}: load the "
                         "data at that size, or set size and aspect_ratio to the data's")
    # random crops and flips are drawn anew each epoch: a memory cache would freeze the first draw
    random_items = preprocess is not None and (preprocess.flip or "crop" in preprocess.mode)
    small = config.num_workers == 0 and not random_items and len(source) * _item_bytes(first) <= CACHE_BYTES
    dataset = MemoryCache(source) if small else source
    trainer = SPADETrainer(config, source.num_classes, device, (height, width), distributed=world_size > 1,
                           generator=generator)
    sampler = EpochSampler(dataset, config.batch_size, rank, world_size, config.seed)
    if sampler.batches_per_epoch == 0:
        raise ValueError(f"dataset {config.dataset!r} has {len(dataset)} images, fewer than batch_size="
                         f"{config.batch_size} x {world_size} processes: lower --batch")
    loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True,
                        num_workers=config.num_workers, pin_memory=device.type == "cuda",
                        persistent_workers=config.num_workers > 0,
                        generator=torch.Generator().manual_seed(config.seed))  # never draws from the global RNG

    step = 0
    if saved is not None:
        trainer.load_state_dict(saved["trainer"])
        step = saved["step"]
        set_rng_state(saved["rng"])
    _truncate_log(log_path, step, is_main)  # a fresh run (step 0) starts an empty log
    saved_step = step if saved is not None else None  # the step checkpoint_path holds, None while there is none
    if rank > 0:  # other processes draw their own noise (z), reproducibly
        torch.manual_seed(config.seed + 1_000_003 * rank + step)

    fixed = [dataset[i] for i in range(min(SAMPLE_ROWS, len(dataset)))]
    fixed_label = torch.stack([item["label"] for item in fixed])
    fixed_image = torch.stack([item["image"] for item in fixed])
    fixed_instance = torch.stack([item["instance"] for item in fixed]) if "instance" in first else None
    samples: list[Path] = []
    sums: dict[str, torch.Tensor] = {}
    counted = 0
    last: dict[str, float] = {}
    started, start_step = time.perf_counter(), step

    def sample(at: int) -> None:
        """Write the fixed label maps' grid (label | EMA generated | real) at step `at`."""
        noise = torch.Generator(device).manual_seed(config.seed)  # the same z every time: grids comparable
        fake = trainer.generate(fixed_label, fixed_image if config.use_vae else None, generator=noise,
                                instance=fixed_instance)
        path = out / "samples" / f"step_{at:06d}.png"
        write_png(sample_grid(fixed_label, fake, fixed_image, source.palette), path)
        samples.append(path)

    def halted(what: str) -> NonFiniteLossError:
        """The error every process raises together when `what` became NaN or inf, naming the checkpoint to use."""
        if saved_step is None:
            return NonFiniteLossError(f"{what}; stopped, no checkpoint was written: start again with lower --lr-G / "
                                      "--lr-D, or --amp none")
        return NonFiniteLossError(f"{what}; stopped. The last good checkpoint is {checkpoint_path} (step "
                                  f"{saved_step}): resume from it with lower --lr-G / --lr-D, or --amp none")

    def checked(at: int) -> dict[str, float]:
        """Mean losses since the last log; every process stops with NonFiniteLossError if any is NaN or inf in any."""
        means = {key: (value / max(counted, 1)).item() for key, value in sums.items()}
        keys = sorted(means)  # the same losses in every process
        bad = [key for key, flag in zip(keys, any_process([not math.isfinite(means[k]) for k in keys], world_size,
                                                          device)) if flag]
        if bad:
            value = means[bad[0]] if not math.isfinite(means[bad[0]]) else "non-finite in another process"
            raise halted(f"loss {bad[0]} became {value} by step {at}")
        return means

    def save(at: int) -> None:
        """Write the checkpoint (main process) after every process checked that the weights are all finite."""
        nonlocal saved_step
        bad = trainer.non_finite_weights()
        if any_process([bad is not None], world_size, device)[0]:
            raise halted(f"weights of {bad or 'the networks in another process'} became non-finite by step {at}")
        if is_main:
            save_checkpoint(checkpoint_path, trainer, at)
        saved_step = at

    bar = progress_bar(total=config.steps, initial=step, desc=out.name or "SPADE", disable=not (is_main and progress))
    done = step >= config.steps
    with StopFlag() as stop, bar:
        while not done:
            sampler.set_position(*divmod(step, sampler.batches_per_epoch))
            for batch in loader:
                trainer.set_learning_rates(step)
                losses = trainer.step(batch["label"], batch["image"], batch.get("instance"))
                for key, value in losses.items():
                    sums[key] = sums.get(key, 0.0) + value
                counted += 1
                step += 1
                bar.update(1)
                interrupted = timed_out = False
                if world_size == 1 or step % config.log_every == 0:  # processes agree only at log steps
                    late = config.max_seconds is not None and time.perf_counter() - started >= config.max_seconds
                    interrupted, timed_out = any_process([stop.requested, late], world_size, device)
                done = step == config.steps or timed_out
                if timed_out and step < config.steps and is_main:
                    end_early(bar, step)  # a run that used its time budget is complete, not failed
                    bar.write(f"stopped at step {step} of {config.steps}: max_seconds={config.max_seconds:.4g} reached")
                if step % config.log_every == 0 or done:
                    last = checked(step)
                    if is_main:
                        bar.set_postfix({key: f"{value:.3f}" for key, value in last.items()}, refresh=False)
                        _append_log(log_path, {"step": step, **last, "lr_G": trainer.opt_G.param_groups[0]["lr"],
                                               "lr_D": trainer.opt_D.param_groups[0]["lr"]})
                    sums, counted = {}, 0
                if is_main and (step % config.sample_every == 0 or done):
                    sample(step)
                if step % config.checkpoint_every == 0 or done or interrupted:
                    checked(step)
                    save(step)
                if interrupted:
                    if is_main:
                        bar.write(f"interrupted at step {step}; checkpoint saved to {checkpoint_path} "
                                       f"(continue with resume=True / --resume)")
                    raise KeyboardInterrupt
                if done:
                    break
    seconds = time.perf_counter() - started
    images = (step - start_step) * config.batch_size * world_size
    return TrainResult(out=out, checkpoint=checkpoint_path, log=log_path, samples=samples, step=step, losses=last,
                       trainer=trainer, class_names=list(source.class_names), palette=list(source.palette),
                       seconds=seconds, images_per_second=images / seconds if seconds > 0 else 0.0)


def _item_bytes(item: dict[str, torch.Tensor]) -> int:
    """Memory one dataset item takes."""
    return sum(value.numel() * value.element_size() for value in item.values())


def _append_log(path: Path, row: dict[str, float]) -> None:
    """Add one JSON line to the loss log (a single small append; _truncate_log rewrites atomically on resume)."""
    try:
        with path.open("a") as file:
            file.write(json.dumps(row) + "\n")
    except OSError as error:
        raise OSError(error.errno, f"cannot add step {row['step']} to the loss log {path} ({error.strerror}): free "
                                   "space or pick another --out; the last checkpoint is unaffected") from error


def _truncate_log(path: Path, step: int, is_main: bool) -> None:
    """Drop log rows after the checkpoint's step (every row for a fresh run): the log matches the run that goes on."""
    if not is_main or not path.is_file():
        return
    rows = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in rows if _row_step(line) is not None and _row_step(line) <= step]
    with atomic_write(path) as file:
        file.write("".join(line + "\n" for line in kept).encode())


def _row_step(line: str) -> int | None:
    """The step of one log line, None for a line cut short by a crash."""
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None

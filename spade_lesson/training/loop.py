"""Training SPADE (Park et al., CVPR 2019, Sec. 3 and 4): the loop around the GAN step.

`train(config)` feeds a SPADETrainer (spade_lesson.training.trainer) batches, logs, samples, checkpoints
(spade_lesson.training.checkpoint_file), stops on a NaN loss, Ctrl-C or a time limit, resumes exactly, and runs under
`torchrun` (DistributedDataParallel, one process per GPU, or gloo on CPU). `train(config, generator=...)` trains
another generator (the ablation's baselines) through the same loop. The settings and presets are
spade_lesson.training.config's.
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
from spade_lesson.data.batches import check_dataset, stack_items
from spade_lesson.data.pictures import sample_grid, write_png
from spade_lesson.runtime.atomic import atomic_write, check_folder, remove_stale_temporaries
from spade_lesson.runtime.machine import any_process, idle_cpu_cores, init_distributed, pick_device, seed_everything
from spade_lesson.runtime.progress import end_early, progress_bar
from spade_lesson.runtime.run_lock import hold_run_folder
from spade_lesson.training.checkpoint_file import (
    CHECKPOINT_NAME,
    check_resumable,
    resumable_state,
    save_checkpoint,
    set_rng_state,
    trained_label_nc,
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
    rank: int  # this process's rank under torchrun (0 alone): only rank 0 reports


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
          progress: bool = True, checkpoint: dict[str, Any] | None = None) -> TrainResult:
    """Train SPADE as configured; resumable, Ctrl-C safe, multi-GPU under torchrun. Returns what it made.

    generator: train this one instead (anything with forward(semantic, z=None), e.g. a baseline); the checkpoint then
    holds its weights, so resume with the same kind of generator. data: the training split (items {"label", "image"}
    and optionally "instance", with num_classes, class_names, palette), default load_dataset(config.dataset, ...).
    progress: the progress bar. checkpoint: the checkpoint config.resume continues, when the caller has already read it
    (resumable_state); read from config.out otherwise.
    """
    device = pick_device(config.device)
    rank, world_size, started_group = init_distributed(device)
    try:
        with hold_run_folder(Path(config.out), enabled=rank == 0):  # a run owns its folder while it writes there
            return _train(config, device, rank, world_size, generator, data, progress, checkpoint)
    finally:
        if started_group:
            dist.destroy_process_group()


def _train(config: TrainConfig, device: torch.device, rank: int, world_size: int, generator: nn.Module | None,
           data: Dataset | None, progress: bool, checkpoint: dict[str, Any] | None) -> TrainResult:
    """train() inside the process group (if any): this process is `rank` of `world_size`, on `device`."""
    out = Path(config.out)
    saved = _start_or_resume(config, out, rank == 0, checkpoint)
    seed_everything(config.seed)
    if data is not None:
        check_dataset(data, "train(data=...)")
    source = data if data is not None else _training_split(config)
    first = source[0]
    _check_data(config, source, first, saved, out / CHECKPOINT_NAME)
    dataset = _cached_if_small(config, source, first)
    trainer = SPADETrainer(config, source.num_classes, device, config.image_size, distributed=world_size > 1,
                           generator=generator)
    sampler = _epoch_sampler(config, dataset, rank, world_size)
    loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True,
                        num_workers=config.num_workers, pin_memory=device.type == "cuda",
                        persistent_workers=config.num_workers > 0,
                        generator=torch.Generator().manual_seed(config.seed))  # never draws from the global RNG
    run = Run(config, trainer, source, out, rank, world_size)
    run.restore(saved)
    run.loop(loader, sampler, dataset, progress)
    return run.result()


def _start_or_resume(config: TrainConfig, out: Path, is_main: bool,
                     checkpoint: dict[str, Any] | None) -> dict[str, Any] | None:
    """The checkpoint to resume (checked against config), or None for a fresh run, whose folder must hold none.

    The main process checks that `out` is writable and removes what killed writes left there.
    """
    if is_main:
        check_folder(out)
    path = out / CHECKPOINT_NAME
    saved = None
    if config.resume:
        saved = checkpoint if checkpoint is not None else resumable_state(path)
        check_resumable(saved["config"], config, path)
    elif is_main and path.exists():
        raise ValueError(f"{path} exists: pass resume=True (--resume) to continue it, or a new --out")
    if is_main:  # what killed writes left, and the log of a run that died before its first checkpoint, go
        for folder in (out, out / "samples"):
            remove_stale_temporaries(folder)
    return saved


def _training_split(config: TrainConfig) -> Dataset:
    """The configured dataset's training split at the configured size and preprocessing."""
    height, width = config.image_size
    return load_dataset(config.dataset, root=config.data_root, split="train", num_classes=config.num_classes,
                        preprocess=config.preprocess(),
                        size=config.size if height == width else (height, width))  # an int: square ones take it


def _check_data(config: TrainConfig, source: Dataset, first: dict[str, torch.Tensor], saved: dict[str, Any] | None,
                path: Path) -> None:
    """Refuse data whose class count differs from the resumed checkpoint's, or whose images are not image_size."""
    label_nc = None if saved is None else trained_label_nc(saved)
    if label_nc is not None and label_nc != source.num_classes:
        raise ValueError(f"{path} was trained on {label_nc} classes, but dataset {config.dataset!r} now "
                         f"has {source.num_classes}: resume with the data it was trained on, or train into a new --out")
    height, width = config.image_size
    if tuple(first["image"].shape[1:]) != (height, width):
        raise ValueError(f"the dataset's images are {first['image'].shape[1]} x {first['image'].shape[2]} but "
                         f"size={config.size}, aspect_ratio={config.aspect_ratio} make {height} x {width}: load the "
                         "data at that size, or set size and aspect_ratio to the data's")


def _cached_if_small(config: TrainConfig, source: Dataset, first: dict[str, torch.Tensor]) -> Dataset:
    """source in a MemoryCache when it fits CACHE_BYTES, its items are not drawn anew each epoch and no DataLoader
    workers would each hold their own copy; source itself otherwise."""
    preprocess = config.preprocess()
    # random crops and flips are drawn anew each epoch: a memory cache would freeze the first draw
    random_items = preprocess is not None and (preprocess.flip or "crop" in preprocess.mode)
    small = config.num_workers == 0 and not random_items and len(source) * _item_bytes(first) <= CACHE_BYTES
    return MemoryCache(source) if small else source


def _epoch_sampler(config: TrainConfig, dataset: Dataset, rank: int, world_size: int) -> EpochSampler:
    """This process's EpochSampler; a dataset too small for one batch per process is a one-line error."""
    sampler = EpochSampler(dataset, config.batch_size, rank, world_size, config.seed)
    if sampler.batches_per_epoch == 0:
        raise ValueError(f"dataset {config.dataset!r} has {len(dataset)} images, fewer than batch_size="
                         f"{config.batch_size} x {world_size} processes: lower --batch")
    return sampler


class Run:
    """One process's run in progress: the step, the losses since the last log, the samples and checkpoints written.

    loop() reads in the order each step goes: train on the batch, agree whether to stop, log, sample, checkpoint.
    """

    def __init__(self, config: TrainConfig, trainer: SPADETrainer, source: Dataset, out: Path, rank: int,
                 world_size: int) -> None:
        self.config, self.trainer, self.source, self.out = config, trainer, source, out
        self.rank, self.world_size, self.is_main = rank, world_size, rank == 0
        self.checkpoint_path, self.log_path = out / CHECKPOINT_NAME, out / LOG_NAME
        self.step = 0
        self.saved_step: int | None = None  # the step checkpoint_path holds, None while there is none
        self.sums: dict[str, torch.Tensor] = {}  # losses summed since the last log, over `counted` steps
        self.counted = 0
        self.last: dict[str, float] = {}  # the mean losses last logged
        self.samples: list[Path] = []

    def restore(self, saved: dict[str, Any] | None) -> None:
        """Continue from a checkpoint (weights, step, every RNG), or start at step 0; cut the log to match."""
        if saved is not None:
            self.trainer.load_state_dict(saved["trainer"])
            self.step = self.saved_step = saved["step"]
            set_rng_state(saved["rng"])
        _truncate_log(self.log_path, self.step, self.is_main)  # a fresh run (step 0) starts an empty log
        if self.rank > 0:  # other processes draw their own noise (z), reproducibly
            torch.manual_seed(self.config.seed + 1_000_003 * self.rank + self.step)

    def loop(self, loader: DataLoader, sampler: EpochSampler, dataset: Dataset, progress: bool) -> None:
        """Train until config.steps, the time budget or Ctrl-C; log, sample and checkpoint on the way."""
        config = self.config
        self.fixed = _fixed_rows(dataset)
        self.started, self.start_step = time.perf_counter(), self.step
        self.bar = progress_bar(total=config.steps, initial=self.step, desc=self.out.name or "SPADE",
                                disable=not (self.is_main and progress))
        with StopFlag() as stop, self.bar:
            while self.step < config.steps:
                sampler.set_position(*divmod(self.step, sampler.batches_per_epoch))
                for batch in loader:
                    self.train_on(batch)
                    interrupted, timed_out = self.stop_requested(stop)
                    done = self.step == config.steps or timed_out
                    if timed_out and self.step < config.steps and self.is_main:
                        end_early(self.bar, self.step)  # a run that used its time budget is complete, not failed
                        self.bar.write(f"stopped at step {self.step} of {config.steps}: "
                                       f"max_seconds={config.max_seconds:.4g} reached")
                    if self.step % config.log_every == 0 or done:
                        self.log()
                    if self.is_main and (self.step % config.sample_every == 0 or done):
                        self.sample()
                    if self.step % config.checkpoint_every == 0 or done or interrupted:
                        self.checked()
                        self.save()
                    if interrupted:
                        if self.is_main:
                            self.bar.write(f"interrupted at step {self.step}; checkpoint saved to "
                                           f"{self.checkpoint_path} (continue with resume=True / --resume)")
                        raise KeyboardInterrupt
                    if done:
                        return

    def train_on(self, batch: dict[str, torch.Tensor]) -> None:
        """One GAN step at this step's learning rates; its losses join the sums of this log interval."""
        self.trainer.set_learning_rates(self.step)
        losses = self.trainer.step(batch["label"], batch["image"], batch.get("instance"))
        for key, value in losses.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.counted += 1
        self.step += 1
        self.bar.update(1)

    def stop_requested(self, stop: StopFlag) -> tuple[bool, bool]:
        """(Ctrl-C pressed, time budget used) in any process; processes agree only at log steps."""
        if self.world_size > 1 and self.step % self.config.log_every != 0:
            return False, False
        budget = self.config.max_seconds
        late = budget is not None and time.perf_counter() - self.started >= budget
        interrupted, timed_out = any_process([stop.requested, late], self.world_size, self.trainer.device)
        return interrupted, timed_out

    def log(self) -> None:
        """Check the mean losses since the last log, show them on the bar and append them to the loss log."""
        self.last = self.checked()
        if self.is_main:
            self.bar.set_postfix({key: f"{value:.3f}" for key, value in self.last.items()}, refresh=False)
            _append_log(self.log_path, {"step": self.step, **self.last,
                                        "lr_G": self.trainer.opt_G.param_groups[0]["lr"],
                                        "lr_D": self.trainer.opt_D.param_groups[0]["lr"]})
        self.sums, self.counted = {}, 0

    def sample(self) -> None:
        """Write the fixed label maps' grid (label | EMA generated | real) at this step."""
        label, image, instance = self.fixed
        noise = torch.Generator(self.trainer.device).manual_seed(self.config.seed)  # the same z: grids comparable
        fake = self.trainer.generate(label, image if self.config.use_vae else None, generator=noise,
                                     instance=instance)
        path = self.out / "samples" / f"step_{self.step:06d}.png"
        write_png(sample_grid(label, fake, image, self.source.palette), path)
        self.samples.append(path)

    def checked(self) -> dict[str, float]:
        """Mean losses since the last log; every process stops with NonFiniteLossError if any is NaN or inf in any."""
        means = {key: (value / max(self.counted, 1)).item() for key, value in self.sums.items()}
        keys = sorted(means)  # the same losses in every process
        flags = any_process([not math.isfinite(means[key]) for key in keys], self.world_size, self.trainer.device)
        bad = [key for key, flag in zip(keys, flags) if flag]
        if bad:
            value = means[bad[0]] if not math.isfinite(means[bad[0]]) else "non-finite in another process"
            raise self.halted(f"loss {bad[0]} became {value} by step {self.step}")
        return means

    def save(self) -> None:
        """Write the checkpoint (main process) after every process checked that the weights are all finite."""
        bad = self.trainer.non_finite_weights()
        if any_process([bad is not None], self.world_size, self.trainer.device)[0]:
            raise self.halted(f"weights of {bad or 'the networks in another process'} became non-finite by step "
                              f"{self.step}")
        if self.is_main:
            save_checkpoint(self.checkpoint_path, self.trainer, self.step)
        self.saved_step = self.step

    def halted(self, what: str) -> NonFiniteLossError:
        """The error every process raises together when `what` became NaN or inf, naming the checkpoint to use."""
        if self.saved_step is None:
            return NonFiniteLossError(f"{what}; stopped, no checkpoint was written: start again with lower --lr-G / "
                                      "--lr-D, or --amp none")
        return NonFiniteLossError(f"{what}; stopped. The last good checkpoint is {self.checkpoint_path} (step "
                                  f"{self.saved_step}): resume from it with lower --lr-G / --lr-D, or --amp none")

    def result(self) -> TrainResult:
        """What the finished run leaves behind."""
        seconds = time.perf_counter() - self.started
        images = (self.step - self.start_step) * self.config.batch_size * self.world_size
        return TrainResult(out=self.out, checkpoint=self.checkpoint_path, log=self.log_path, samples=self.samples,
                           step=self.step, losses=self.last, trainer=self.trainer,
                           class_names=list(self.source.class_names), palette=list(self.source.palette),
                           seconds=seconds, images_per_second=images / seconds if seconds > 0 else 0.0,
                           rank=self.rank)


def _fixed_rows(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(label, image, instance or None) of the first SAMPLE_ROWS items: every sample grid shows these."""
    fixed = stack_items(dataset, min(SAMPLE_ROWS, len(dataset)))
    return fixed["label"], fixed["image"], fixed.get("instance")


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

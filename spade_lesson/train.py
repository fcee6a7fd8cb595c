"""Training SPADE (Park et al., CVPR 2019, Sec. 3 and 4): the GAN step, checkpoints that resume exactly, the loop.

`TrainConfig` holds every knob; `course_config()` (a GPU) and `cpu_config()` (a laptop) are the course's presets.
`SPADETrainer(config, semantic_nc, image_size, device)` owns G, D, E, the EMA generator and the optimizers and runs
one step (`step(label, image)`); `train(config)` feeds it data, logs, samples, checkpoints, and runs under
`torchrun` (DistributedDataParallel, one process per GPU, or gloo on CPU).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import os
import random
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from spade_lesson.atomic import atomic_write
from spade_lesson.data import colorize, load_dataset, one_hot, to_uint8
from spade_lesson.discriminator import MultiscaleDiscriminator
from spade_lesson.encoder import ConvEncoder, reparameterize
from spade_lesson.generator import SPADEGenerator
from spade_lesson.losses import (GAN_MODES, VGGLoss, discriminator_loss, feature_matching_loss, generator_loss,
                                 kl_divergence, load_vgg19_features)

AMP_MODES = ("auto", "bf16", "fp16", "none")
CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "losses.jsonl"
SAMPLE_ROWS = 4  # label maps in every sample grid
CACHE_BYTES = 2**30  # datasets smaller than this stay in memory once loaded (without DataLoader workers)
# Fields a resumed run may change; every other field shapes the models or the data and must match the checkpoint.
RESUMABLE_CHANGES = ("steps", "decay_start", "checkpoint_every", "sample_every", "log_every", "max_seconds", "compile",
                     "device", "num_workers", "resume", "out")


@dataclass
class TrainConfig:
    """Every setting of a SPADE training run (defaults: the official hyper-parameters at a CPU-friendly size)."""

    dataset: str = "landscapes"  # a name for spade_lesson.data.load_dataset, or a folder of images/ + labels/
    data_root: str = "data"  # where prepared real datasets live
    size: int = 64  # images are size x size (the generator's crop_size)
    steps: int = 1000  # optimizer steps of G and of D
    batch_size: int = 8  # images per step in each process
    ngf: int = 16  # generator (and encoder) width; the official 64
    spade_hidden: int = 128  # width of SPADE's shared embedding of the label map (128 officially)
    ndf: int = 16  # discriminator width; the official 64
    num_D: int = 2  # discriminator scales
    n_layers_D: int = 4  # layers of each PatchGAN
    use_vae: bool = False  # learn an image encoder and draw styles z (the paper's multi-modal synthesis)
    gan_mode: str = "hinge"  # "hinge" (the paper), "ls" (least squares) or "original" (non-saturating BCE)
    lambda_feat: float = 10.0  # feature matching weight
    lambda_vgg: float = 10.0  # VGG perceptual weight; 0 skips loading VGG19
    lambda_kld: float = 0.05  # KL weight (use_vae only)
    lr_G: float = 1e-4  # TTUR: the generator learns at half the official lr 2e-4 ...
    lr_D: float = 4e-4  # ... the discriminator at twice it
    beta1: float = 0.0  # Adam betas (0, 0.9) as the official code; the paper's text says (0, 0.999)
    beta2: float = 0.9
    decay_start: int | None = None  # from this step the learning rates fall linearly to 0 at `steps`; None: constant
    ema_decay: float = 0.999  # the sampling generator is an exponential moving average of G with this decay
    amp: str = "auto"  # autocast dtype on CUDA: "auto" (bf16 where the GPU has it, else fp16), "bf16", "fp16", "none"
    channels_last: bool = True  # NHWC tensors on CUDA (faster convs with tensor cores); ignored off CUDA
    compile: bool = False  # torch.compile the generator and discriminator
    seed: int = 0
    out: str = "runs/train"  # checkpoint, loss log and sample grids go here
    checkpoint_every: int = 500
    sample_every: int = 250
    log_every: int = 10  # one loss-log row (means over these steps) and progress-bar update per this many steps
    max_seconds: float | None = None  # stop early (checkpoint and samples written) after this long; None: no limit
    device: str = "auto"  # "auto" (CUDA, MPS, CPU), or a torch device string; torchrun picks cuda:LOCAL_RANK
    num_workers: int = 0  # DataLoader worker processes
    resume: bool = False  # continue from out/checkpoint.pt (exactly where it stopped)

    def __post_init__(self) -> None:
        """Check the values with one-line errors naming the field."""
        if self.gan_mode not in GAN_MODES:
            raise ValueError(f"gan_mode={self.gan_mode!r}: choose one of {', '.join(GAN_MODES)}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp={self.amp!r}: choose one of {', '.join(AMP_MODES)}")
        for name in ("size", "steps", "batch_size", "ngf", "spade_hidden", "ndf", "num_D", "n_layers_D",
                     "checkpoint_every", "sample_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1")
        if self.size % 32:
            raise ValueError(f"size={self.size}: the generator doubles a map 5 times, use a multiple of 32 (e.g. 64)")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay={self.ema_decay} must be in [0, 1) (e.g. 0.999)")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"max_seconds={self.max_seconds} must be positive (or None for no limit)")
        if self.decay_start is not None and not 0 <= self.decay_start <= self.steps:
            raise ValueError(f"decay_start={self.decay_start} must be between 0 and steps={self.steps} (or None)")


def course_config(**overrides: Any) -> TrainConfig:
    """The course's GPU preset: Landscapes at 128 x 128, recognizable landscapes in ~15 minutes on a T4."""
    settings = {"size": 128, "steps": 6000, "batch_size": 16, "ngf": 32, "ndf": 32, "checkpoint_every": 1000,
                "sample_every": 500, "num_workers": 0, "out": "runs/course"}
    return _with_decay({**settings, **overrides})


def cpu_config(**overrides: Any) -> TrainConfig:
    """The course's CPU preset: Landscapes at 64 x 64, narrow networks and no VGG, ~10 minutes on a laptop."""
    settings = {"size": 64, "steps": 1500, "batch_size": 4, "ngf": 16, "ndf": 16, "spade_hidden": 32,
                "n_layers_D": 3, "lambda_vgg": 0.0, "checkpoint_every": 500, "sample_every": 250, "out": "runs/cpu"}
    return _with_decay({**settings, **overrides})


def _with_decay(settings: dict[str, Any]) -> TrainConfig:
    """A preset's TrainConfig; unless set, the learning rates decay over the second half of the steps."""
    return TrainConfig(**{"decay_start": settings.get("steps", TrainConfig.steps) // 2, **settings})


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


def learning_rate_factor(step: int, steps: int, decay_start: int | None) -> float:
    """1 before decay_start, then falling linearly to 0 at `steps` (the official linear decay, per step)."""
    if decay_start is None or step < decay_start or steps == decay_start:
        return 1.0
    return max(0.0, (steps - step) / (steps - decay_start))  # lr_t = lr_0 (T - t) / (T - t_decay)


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype here: None (fp32) off CUDA or for "none"; "auto" is bf16 from Ampere on, else fp16."""
    if device.type != "cuda" or amp == "none":
        return None
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.get_device_capability(device)[0] >= 8 else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]


def idle_cpu_cores() -> int:
    """CPU cores no other process is using (at least 1): more torch threads than that wait on each other a lot."""
    cores = os.cpu_count() or 1
    busy = round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(cores, cores - busy))


def pick_device(name: str) -> torch.device:
    """config.device -> torch.device: "auto" is CUDA, then MPS, then CPU; torchrun runs use cuda:LOCAL_RANK."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"device={name!r} is not a torch device ({error}): use auto, cpu, cuda or cuda:0") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} but this torch sees no CUDA GPU: use device='auto' or 'cpu'")
    return device


class SPADETrainer:
    """G, D (and E), the EMA generator, TTUR Adam optimizers and the losses: one call of step() is one GAN step."""

    def __init__(self, config: TrainConfig, semantic_nc: int, image_size: tuple[int, int], device: torch.device,
                 distributed: bool = False) -> None:
        self.config = config
        self.semantic_nc = semantic_nc
        self.device = device
        self.amp_dtype = resolve_amp(config.amp, device)
        self.memory_format = torch.channels_last if config.channels_last and device.type == "cuda" \
            else torch.contiguous_format
        height, width = image_size
        self.generator = SPADEGenerator(semantic_nc, ngf=config.ngf, crop_size=width, aspect_ratio=width / height,
                                        use_vae=config.use_vae, spade_hidden=config.spade_hidden)
        self.discriminator = MultiscaleDiscriminator(semantic_nc + 3, num_D=config.num_D,
                                                     n_layers_D=config.n_layers_D, ndf=config.ndf)
        self.encoder = ConvEncoder(ngf=config.ngf) if config.use_vae else None
        if distributed and device.type == "cuda":  # one set of BatchNorm statistics over every GPU's batch
            self.generator = nn.SyncBatchNorm.convert_sync_batchnorm(self.generator)
        for module in (self.generator, self.discriminator, self.encoder):
            if module is not None:
                module.to(device, memory_format=self.memory_format)
        # *_run: what the step calls (DDP-wrapped when distributed, compiled when asked); d_local skips DDP's all-reduce
        self.g_run, self.d_run, self.e_run = self.generator, self.discriminator, self.encoder
        if distributed:
            ids = [device.index] if device.type == "cuda" else None
            self.g_run = nn.parallel.DistributedDataParallel(self.generator, device_ids=ids)
            self.d_run = nn.parallel.DistributedDataParallel(self.discriminator, device_ids=ids)
            if self.encoder is not None:
                self.e_run = nn.parallel.DistributedDataParallel(self.encoder, device_ids=ids)
        self.d_local = self.discriminator
        if config.compile:
            self.g_run, self.d_run = torch.compile(self.g_run), torch.compile(self.d_run)
            self.d_local = self.d_run if not distributed else torch.compile(self.discriminator)
        self.steps_done = 0
        self.ema = copy.deepcopy(self.generator).eval().requires_grad_(False)  # after DDP: rank 0's initial weights
        g_params = list(self.generator.parameters())
        if self.encoder is not None:
            g_params += list(self.encoder.parameters())  # the encoder trains with the generator, as officially
        betas = (config.beta1, config.beta2)
        self.opt_G = torch.optim.Adam(g_params, lr=config.lr_G, betas=betas)
        self.opt_D = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_D, betas=betas)
        fp16 = self.amp_dtype == torch.float16
        self.scaler_G = torch.amp.GradScaler("cuda", enabled=fp16)  # fp16 needs loss scaling; bf16 does not
        self.scaler_D = torch.amp.GradScaler("cuda", enabled=fp16)
        self.vgg = None
        if config.lambda_vgg > 0:
            features = load_vgg19_features()
            if features is not None:
                self.vgg = VGGLoss(features).to(device, memory_format=self.memory_format)

    def networks(self) -> dict[str, nn.Module]:
        """The networks by checkpoint key: G, D, E (with use_vae) and EMA."""
        nets = {"G": self.generator, "D": self.discriminator, "EMA": self.ema}
        if self.encoder is not None:
            nets["E"] = self.encoder
        return nets

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision on CUDA when configured, else nothing."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    def prepare(self, label: torch.Tensor, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """label: (N, H, W) ids, image: (N, 3, H, W) -> the one-hot map m and the image, on the device."""
        label = label.to(self.device, non_blocking=True)
        image = image.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        semantic = one_hot(label, self.semantic_nc).contiguous(memory_format=self.memory_format)
        return semantic, image

    def set_learning_rates(self, step: int) -> None:
        """Apply the linear decay of both learning rates for this step (TTUR keeps their ratio)."""
        factor = learning_rate_factor(step, self.config.steps, self.config.decay_start)
        for group in self.opt_G.param_groups:
            group["lr"] = self.config.lr_G * factor
        for group in self.opt_D.param_groups:
            group["lr"] = self.config.lr_D * factor

    def step(self, label: torch.Tensor, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """One GAN step on a batch (label (N, H, W), image (N, 3, H, W)): D, then G, then the EMA; detached losses."""
        config = self.config
        semantic, real = self.prepare(label, image)
        losses: dict[str, torch.Tensor] = {}
        with self.autocast():
            z = None
            if self.e_run is not None:
                mu, logvar = self.e_run(real)
                z = reparameterize(mu.float(), logvar.float())
                losses["G_KLD"] = config.lambda_kld * kl_divergence(mu, logvar)  # lambda_KL * KL(q(z|x) || N(0, I))
            fake = self.g_run(semantic, z)

        self.discriminator.requires_grad_(True)
        with self.autocast():
            pair = torch.cat([torch.cat([semantic, fake.detach()], dim=1), torch.cat([semantic, real], dim=1)])
            outputs = self.d_run(pair)  # fakes and reals in one batch, as the official code
            d_fake = [[f[: len(real)] for f in scale] for scale in outputs]
            d_real = [[f[len(real):] for f in scale] for scale in outputs]
            losses["D_fake"], losses["D_real"] = discriminator_loss(d_fake, d_real, config.gan_mode)
        self.opt_D.zero_grad(set_to_none=True)
        self.scaler_D.scale(losses["D_fake"] + losses["D_real"]).backward()
        self.scaler_D.step(self.opt_D)
        self.scaler_D.update()

        self.discriminator.requires_grad_(False)  # G's step needs gradients through D, not for it
        with self.autocast():
            g_fake = self.d_local(torch.cat([semantic, fake], dim=1))  # D itself: nothing to all-reduce
            with torch.no_grad():
                g_real = self.d_local(torch.cat([semantic, real], dim=1))
            losses["G_GAN"] = generator_loss(g_fake, config.gan_mode)
            losses["G_feat"] = config.lambda_feat * feature_matching_loss(g_fake, g_real)  # lambda_FM * L_FM
            if self.vgg is not None:
                losses["G_VGG"] = config.lambda_vgg * self.vgg(fake, real)  # lambda_VGG * L_VGG
        g_total = sum(value for key, value in losses.items() if key.startswith("G_"))
        self.opt_G.zero_grad(set_to_none=True)
        self.scaler_G.scale(g_total).backward()
        self.scaler_G.step(self.opt_G)
        self.scaler_G.update()
        self.steps_done += 1
        self.update_ema()
        return {key: value.detach().float() for key, value in losses.items()}

    @torch.no_grad()
    def update_ema(self) -> None:
        """ema <- d * ema + (1 - d) * G (weights), d = min(ema_decay, (1 + t) / (10 + t)); buffers copied."""
        done = self.steps_done
        decay = min(self.config.ema_decay, (1 + done) / (10 + done))  # short runs are not stuck with the initial G
        for ema_param, param in zip(self.ema.parameters(), self.generator.parameters()):
            ema_param.lerp_(param, 1 - decay)  # theta_ema = d theta_ema + (1 - d) theta
        for ema_buffer, buffer in zip(self.ema.buffers(), self.generator.buffers()):
            ema_buffer.copy_(buffer)

    @torch.no_grad()
    def generate(self, label: torch.Tensor, image: torch.Tensor | None = None, z: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """The EMA generator's images (N, 3, H, W) for labels (N, H, W); style z from `image` (VAE), given, or drawn."""
        semantic = one_hot(label.to(self.device), self.semantic_nc).contiguous(memory_format=self.memory_format)
        if self.encoder is not None and z is None:
            if image is not None:
                self.encoder.eval()
                z, _ = self.encoder(image.to(self.device).contiguous(memory_format=self.memory_format))  # the mean
                self.encoder.train()
            else:
                z = torch.randn(len(label), self.ema.z_dim, device=self.device, generator=generator)
        with self.autocast():
            return self.ema(semantic, z).float()

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimizers and loss scalers as plain dicts of tensors (loadable with weights_only=True)."""
        state: dict[str, Any] = {key: module.state_dict() for key, module in self.networks().items()}
        state.update(steps_done=self.steps_done, opt_G=self.opt_G.state_dict(), opt_D=self.opt_D.state_dict(),
                     scaler_G=self.scaler_G.state_dict(), scaler_D=self.scaler_D.state_dict())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict() wrote."""
        for key, module in self.networks().items():
            module.load_state_dict(state[key])
        self.steps_done = state["steps_done"]
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        if state["scaler_G"]:
            self.scaler_G.load_state_dict(state["scaler_G"])
            self.scaler_D.load_state_dict(state["scaler_D"])


def rng_state() -> dict[str, Any]:
    """Every random generator's state (torch CPU and CUDA, NumPy, Python) as tensors and numbers."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "cached_gaussian": float(cached)},
        "python": {"version": version, "state": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what rng_state() captured."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy = state["numpy"]
    np.random.set_state(("MT19937", numpy["keys"].numpy().astype(np.uint32), numpy["pos"], numpy["has_gauss"],
                         numpy["cached_gaussian"]))
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"].tolist()), python["gauss"]))


def save_checkpoint(path: Path, trainer: SPADETrainer, step: int) -> None:
    """Write everything needed to resume exactly, atomically (a temporary file, then os.replace).

    The data order needs no state of its own: EpochSampler derives it from (seed, step).
    """
    state = {"step": step, "config": dataclasses.asdict(trainer.config), "semantic_nc": trainer.semantic_nc,
             "trainer": trainer.state_dict(), "rng": rng_state()}
    with atomic_write(path) as file:
        torch.save(state, file)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint written by save_checkpoint, read with torch.load(weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint there; train first (spade-lesson train --out {path.parent})")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable spade-lesson checkpoint ({type(error).__name__}); "
                         "delete it or train into a new --out") from None


def load_trainer(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[SPADETrainer, int]:
    """(trainer with every network restored, step) from a checkpoint, e.g. to sample from its EMA generator."""
    state = load_checkpoint(path)
    config = TrainConfig(**state["config"])
    device = torch.device(device)
    size = (config.size, config.size)
    trainer = SPADETrainer(dataclasses.replace(config, lambda_vgg=0.0), state["semantic_nc"], size, device)
    trainer.load_state_dict(state["trainer"])
    return trainer, state["step"]


def write_png(image: torch.Tensor, path: Path) -> None:
    """image: uint8 (H, W, 3) -> PNG at path, atomically."""
    from PIL import Image

    with atomic_write(path) as file:
        Image.fromarray(image.cpu().numpy()).save(file, format="PNG")


def sample_grid(label: torch.Tensor, fake: torch.Tensor, real: torch.Tensor,
                palette: list[tuple[int, int, int]]) -> torch.Tensor:
    """One row per example: label map | generated | real. label (N, H, W), images (N, 3, H, W) in [-1, 1] -> uint8."""
    rows = [torch.cat([colorize(lab.cpu(), palette), to_uint8(f), to_uint8(r)], dim=1)
            for lab, f, r in zip(label, fake, real)]
    return torch.cat(rows, dim=0)


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


def _distributed() -> tuple[int, int, bool]:
    """(rank, world size, whether this call started the process group) from torchrun's environment."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1, False
    started = not dist.is_initialized()
    if started:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world_size, started


def _check_out(out: Path) -> None:
    """Make the output folder, or fail with one line saying what to do."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-")
        probe.close()
    except OSError as error:
        raise ValueError(f"out={str(out)!r} is not a writable folder ({error.strerror}): pick another --out") from None


def _check_resumable(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    """Refuse to resume a checkpoint whose models or data differ from this config."""
    for name, value in dataclasses.asdict(config).items():
        if name not in RESUMABLE_CHANGES and saved.get(name) != value:
            raise ValueError(f"{path} was trained with {name}={saved.get(name)!r}, this run asks {name}={value!r}: "
                             "use the same settings to resume, or a new --out")


def train(config: TrainConfig) -> TrainResult:
    """Train SPADE as configured; resumable, Ctrl-C safe, multi-GPU under torchrun. Returns what it made."""
    out = Path(config.out)
    rank, world_size, started_group = _distributed()
    try:
        return _train(config, out, rank, world_size)
    finally:
        if started_group:
            dist.destroy_process_group()


def _train(config: TrainConfig, out: Path, rank: int, world_size: int) -> TrainResult:
    """train() inside the process group (if any): this process is `rank` of `world_size`."""
    is_main = rank == 0
    if is_main:
        _check_out(out)
    device = pick_device(config.device)
    if world_size > 1 and device.type == "cuda":
        torch.cuda.set_device(device)
    checkpoint_path, log_path = out / CHECKPOINT_NAME, out / LOG_NAME
    saved = None
    if config.resume:
        saved = load_checkpoint(checkpoint_path)
        _check_resumable(saved["config"], config, checkpoint_path)
    elif is_main and checkpoint_path.exists():
        raise ValueError(f"{checkpoint_path} exists: pass resume=True (--resume) to continue it, or a new --out")

    torch.manual_seed(config.seed)
    random.seed(config.seed)
    np.random.seed(config.seed)
    source = load_dataset(config.dataset, root=config.data_root, split="train", size=config.size)
    first = source[0]
    small = config.num_workers == 0 and len(source) * _item_bytes(first) <= CACHE_BYTES
    dataset = MemoryCache(source) if small else source
    trainer = SPADETrainer(config, source.num_classes, tuple(first["image"].shape[1:]), device,
                           distributed=world_size > 1)
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
        _truncate_log(log_path, step, is_main)
    if rank > 0:  # other processes draw their own noise (z), reproducibly
        torch.manual_seed(config.seed + 1_000_003 * rank + step)

    fixed = [dataset[i] for i in range(min(SAMPLE_ROWS, len(dataset)))]
    fixed_label = torch.stack([item["label"] for item in fixed])
    fixed_image = torch.stack([item["image"] for item in fixed])
    samples: list[Path] = []
    sums: dict[str, torch.Tensor] = {}
    counted = 0
    last: dict[str, float] = {}
    started, start_step = time.perf_counter(), step

    def sample(at: int) -> None:
        """Write the fixed label maps' grid (label | EMA generated | real) at step `at`."""
        noise = torch.Generator(device).manual_seed(config.seed)  # the same z every time: grids comparable
        fake = trainer.generate(fixed_label, fixed_image if config.use_vae else None, generator=noise)
        path = out / "samples" / f"step_{at:06d}.png"
        write_png(sample_grid(fixed_label, fake, fixed_image, source.palette), path)
        samples.append(path)

    def checked(at: int) -> dict[str, float]:
        """Mean losses since the last log; stop with NonFiniteLossError if any is NaN or inf."""
        means = {key: (value / max(counted, 1)).item() for key, value in sums.items()}
        bad = [key for key, value in means.items() if not math.isfinite(value)]
        if bad:
            raise NonFiniteLossError(
                f"loss {bad[0]} became {means[bad[0]]} by step {at}; stopped. The last good checkpoint is "
                f"{checkpoint_path}: resume from it with lower lr_G/lr_D, or amp='none'")
        return means

    from tqdm.auto import tqdm

    progress = tqdm(total=config.steps, initial=step, disable=not is_main, desc="SPADE", dynamic_ncols=True)
    done = step >= config.steps
    with StopFlag() as stop, progress:
        while not done:
            sampler.set_position(*divmod(step, sampler.batches_per_epoch))
            for batch in loader:
                trainer.set_learning_rates(step)
                losses = trainer.step(batch["label"], batch["image"])
                for key, value in losses.items():
                    sums[key] = sums.get(key, 0.0) + value
                counted += 1
                step += 1
                progress.update(1)
                interrupted = timed_out = False
                if world_size == 1 or step % config.log_every == 0:  # processes agree only at log steps
                    late = config.max_seconds is not None and time.perf_counter() - started >= config.max_seconds
                    interrupted, timed_out = _any_process([stop.requested, late], world_size, device)
                done = step == config.steps or timed_out
                if step % config.log_every == 0 or done:
                    last = checked(step)
                    if is_main:
                        progress.set_postfix({key: f"{value:.3f}" for key, value in last.items()}, refresh=False)
                        _append_log(log_path, {"step": step, **last, "lr_G": trainer.opt_G.param_groups[0]["lr"],
                                               "lr_D": trainer.opt_D.param_groups[0]["lr"]})
                    sums, counted = {}, 0
                if is_main and (step % config.sample_every == 0 or done):
                    sample(step)
                if step % config.checkpoint_every == 0 or done or interrupted:
                    checked(step)
                    if is_main:
                        save_checkpoint(checkpoint_path, trainer, step)
                if interrupted:
                    if is_main:
                        progress.write(f"interrupted at step {step}; checkpoint saved to {checkpoint_path} "
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


def _any_process(flags: list[bool], world_size: int, device: torch.device) -> list[bool]:
    """Each flag OR-ed over all processes (they must all stop at the same step)."""
    if world_size == 1:
        return flags
    tensor = torch.tensor([float(flag) for flag in flags], device=device)
    dist.all_reduce(tensor)
    return [bool(value > 0) for value in tensor.tolist()]


def _append_log(path: Path, row: dict[str, float]) -> None:
    """Add one JSON line to the loss log (a single small append; _truncate_log rewrites atomically on resume)."""
    with path.open("a") as file:
        file.write(json.dumps(row) + "\n")


def _truncate_log(path: Path, step: int, is_main: bool) -> None:
    """On resume, drop log rows after the checkpoint's step so the log matches the run that continues."""
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

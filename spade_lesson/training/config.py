"""Every setting of a SPADE training run (`TrainConfig`) and the course's presets of it.

Each field carries its help text in its metadata (and, where the command line names it differently, its flag), so
`spade-lesson train` builds its options from the fields: a new setting is declared once, here. Presets: `course_config`
(a GPU), `cpu_config` (a laptop) and `fast_config` (seconds on a CPU: tests and notebooks in fast mode).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spade_lesson.data.layout import MAX_CLASSES
from spade_lesson.data.preprocess import MODES as PREPROCESS_MODES
from spade_lesson.data.preprocess import Preprocess
from spade_lesson.layers.initialization import INIT_TYPES, check_init
from spade_lesson.models.generator import UPSAMPLING_LAYERS, image_size
from spade_lesson.runtime.machine import check_seed
from spade_lesson.training.losses import GAN_MODES

AMP_MODES = ("auto", "bf16", "fp16", "none")
MAX_ASPECT = 8  # width / height between 1/8 and 8: beyond, one side is a sliver (and 1e-300 asks for 10^301 rows)


def setting(default: Any, help: str, **cli: Any) -> Any:
    """A field with its help text; cli: flag (when not --the-field-name), choices, scale (flag value x scale)."""
    return dataclasses.field(default=default, metadata={"help": help, **cli})


def shared(name: str, default: Any = dataclasses.MISSING) -> Any:
    """A field of another config (the ablation's) that is TrainConfig's `name`: its help and flag, maybe its default."""
    field = TrainConfig.__dataclass_fields__[name]
    return dataclasses.field(default=field.default if default is dataclasses.MISSING else default,
                             metadata=field.metadata)


@dataclass
class TrainConfig:
    """Every setting of a SPADE training run (defaults: the official hyper-parameters at a CPU-friendly size)."""

    dataset: str = setting("landscapes", "landscapes (offline), a prepared dataset (facades, ade20k, ade20k-outdoor, "
                                         "cocostuff, cityscapes), or a folder: images/ + labels/, or the official "
                                         "COCO-Stuff, ADE20K or Cityscapes layout (spade_lesson.data.load_dataset)")
    data_root: str = setting("data", "where prepared real datasets live")
    size: int = setting(64, "image width (the generator's crop_size); the height is size / aspect_ratio; both "
                            "multiples of 32 (64 with num_upsampling_layers more, 128 with most)")
    aspect_ratio: float = setting(1.0, "width / height of the images (the official aspect_ratio: 2.0 for the paper's "
                                       "Cityscapes 512 x 256)")
    num_upsampling_layers: str = setting("normal", "the generator's doublings: normal (5), more (6, the paper's "
                                                   "Cityscapes), most (7, one more block)",
                                         choices=tuple(UPSAMPLING_LAYERS))
    preprocess_mode: str = setting("fixed", "the official preprocess_mode: fixed (resize to size x size / "
                                            "aspect_ratio), resize_and_crop or scale_width_and_crop (to load_size, "
                                            "then a random size crop), none", choices=PREPROCESS_MODES)
    load_size: int | None = setting(None, "the official load_size, the resize before a random crop (286 for 256 "
                                          "crops officially); None: size")
    flip: bool = setting(False, "random left-right flips of image, label and instance map alike (the official "
                                "default for real datasets; Landscapes is drawn, not flipped)", negative="--no-flip")
    num_classes: int | None = setting(None, "the label's class count when a folder has no dataset.json and no known "
                                            "layout says it (never guessed from the largest id when one does)")
    contain_dontcare_label: bool = setting(False, "one more input channel marking don't-care pixels (label 255), as "
                                                  "the official option; else they are all-zero vectors",
                                           negative="--no-contain-dontcare-label")
    no_instance: bool = setting(True, "the official no_instance: no instance-edge channel (the default for Landscapes "
                                      "and ADE20K); --instance adds the official get_edges of the dataset's instance "
                                      "maps to the input (class boundaries where it has none), the default for "
                                      "COCO-Stuff and Cityscapes", flag="--no-instance", negative="--instance")
    init_type: str = setting("xavier", "initialization of every conv, linear and BatchNorm of G, D and E, as the "
                                       "official init_type (xavier: the official default)", choices=INIT_TYPES)
    init_variance: float = setting(0.02, "the official init_variance: gain (xavier, orthogonal) or std (normal) of the "
                                         "initial weights, std of BatchNorm scales around 1")
    steps: int = setting(1000, "optimizer steps of G and of D")
    batch_size: int = setting(8, "images per step in each process", flag="--batch")
    ngf: int = setting(16, "generator (and encoder) width; the official 64")
    spade_hidden: int = setting(128, "width of SPADE's shared embedding of the label map (128 officially)")
    ndf: int = setting(16, "discriminator width; the official 64")
    num_D: int = setting(2, "discriminator scales")
    n_layers_D: int = setting(4, "layers of each PatchGAN")
    use_vae: bool = setting(False, "learn an image encoder and draw styles z (the paper's multi-modal synthesis)",
                            flag="--vae")
    gan_mode: str = setting("hinge", "adversarial loss: hinge (the paper), ls (least squares) or original "
                                     "(non-saturating BCE)", choices=GAN_MODES)
    lambda_feat: float = setting(10.0, "feature matching weight")
    lambda_vgg: float = setting(10.0, "VGG perceptual weight; 0 skips loading VGG19")
    lambda_kld: float = setting(0.05, "KL weight (use_vae only)")
    lr_G: float = setting(1e-4, "generator learning rate (TTUR: half the official 2e-4)")
    lr_D: float = setting(4e-4, "discriminator learning rate (TTUR: twice the official 2e-4)")
    beta1: float = setting(0.0, "Adam beta1 (0, as the official code)")
    beta2: float = setting(0.9, "Adam beta2 (0.9, the official code; the paper's text says 0.999)")
    decay_start: int | None = setting(None, "from this step the learning rates fall linearly to 0 at steps; "
                                            "None: constant")
    ema_decay: float = setting(0.999, "decay of the generator's exponential moving average (the sampling generator)")
    amp: str = setting("auto", "autocast dtype: auto (on CUDA bf16 where the GPU has it, else fp16; float32 "
                               "elsewhere), bf16, fp16 (on any device whose torch has them), none", choices=AMP_MODES)
    channels_last: bool = setting(True, "NHWC tensors on every device (faster convs with tensor cores on CUDA; "
                                        "about as fast as NCHW on a CPU)", flag="--no-channels-last")
    compile: bool = setting(False, "torch.compile the generator and discriminator")
    one_hot_lookup: bool = setting(True, "convs that read the one-hot label map sum the weight slices of each pixel's "
                                         "class (spade_lesson.layers.onehot: the same result, faster with many "
                                         "classes); off: "
                                         "plain convs over the one-hot tensor, as the official code",
                                   flag="--no-one-hot-lookup")
    seed: int = setting(0, "seed of the weights, the data order and the noise")
    out: str = setting("runs/train", "output folder: checkpoint.pt, losses.jsonl and samples/")
    checkpoint_every: int = setting(500, "steps between checkpoints")
    sample_every: int = setting(250, "steps between sample grids")
    log_every: int = setting(10, "one loss-log row (means over these steps) and progress-bar update per this many "
                                 "steps")
    max_seconds: float | None = setting(None, "stop (with a checkpoint and samples) after this many minutes",
                                        flag="--max-minutes", scale=60.0)
    device: str = setting("auto", "auto (CUDA, MPS, CPU), cpu, cuda, cuda:1, mps; under torchrun local rank r "
                                  "takes cuda:r (cuda:N+r from cuda:N)")
    num_workers: int = setting(0, "DataLoader worker processes", flag="--workers")
    resume: bool = setting(False, "continue out/checkpoint.pt exactly where it stopped")

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the images: size wide, size / aspect_ratio high."""
        return image_size(self.size, self.aspect_ratio, self.num_upsampling_layers)

    def preprocess(self) -> Preprocess | None:
        """The data's preprocessing as the official options say, or None for the plain resize to image_size."""
        if self.preprocess_mode == "fixed" and not self.flip:
            return None
        return Preprocess(mode=self.preprocess_mode, crop_size=self.size, load_size=self.load_size,
                          aspect_ratio=self.aspect_ratio, flip=self.flip)

    def __post_init__(self) -> None:
        """Check the values with one-line errors naming the field."""
        check_types(self)
        for name in ("lambda_feat", "lambda_vgg", "lambda_kld", "beta1", "beta2"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} ({flag_of(name)}) must be at least 0")
        for name in ("lr_G", "lr_D"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} ({flag_of(name)}) must be positive")
        for name in ("beta1", "beta2"):
            if getattr(self, name) >= 1:
                raise ValueError(f"{name}={getattr(self, name)} ({flag_of(name)}) must be below 1 (Adam's betas)")
        check_seed(self.seed)
        if self.aspect_ratio > 0 and not 1 / MAX_ASPECT <= self.aspect_ratio <= MAX_ASPECT:
            raise ValueError(f"aspect_ratio={self.aspect_ratio} (--aspect-ratio): width / height must be between "
                             f"1/{MAX_ASPECT} and {MAX_ASPECT} (2.0 for the paper's Cityscapes)")
        if self.gan_mode not in GAN_MODES:
            raise ValueError(f"gan_mode={self.gan_mode!r}: choose one of {', '.join(GAN_MODES)}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp={self.amp!r}: choose one of {', '.join(AMP_MODES)}")
        for name in ("size", "steps", "batch_size", "ngf", "spade_hidden", "ndf", "num_D", "n_layers_D",
                     "checkpoint_every", "sample_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1")
        image_size(self.size, self.aspect_ratio, self.num_upsampling_layers)  # one-line error naming size, aspect
        check_init(self.init_type, self.init_variance)
        if self.load_size is not None and self.load_size < self.size:
            raise ValueError(f"load_size={self.load_size} is smaller than size={self.size}: the random crop is taken "
                             "from the picture resized to load_size, so use load_size >= size (286 for 256)")
        if self.num_classes is not None and not 1 <= self.num_classes <= MAX_CLASSES:
            raise ValueError(f"num_classes={self.num_classes}: labels hold ids 0-{MAX_CLASSES - 1} (255 is don't "
                             f"care), so use 1 to {MAX_CLASSES}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay={self.ema_decay} must be in [0, 1) (e.g. 0.999)")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"max_seconds={self.max_seconds} must be positive (or None for no limit)")
        if self.decay_start is not None and not 0 <= self.decay_start <= self.steps:
            raise ValueError(f"decay_start={self.decay_start} must be between 0 and steps={self.steps} (or None)")


def flag_of(name: str) -> str:
    """The command-line flag of TrainConfig's field name."""
    return TrainConfig.__dataclass_fields__[name].metadata.get("flag", "--" + name.replace("_", "-"))


def check_types(config: TrainConfig) -> None:
    """Every field of its declared type (an int is no bool, a float is finite); one line naming field and flag."""
    for name, hint in typing.get_type_hints(TrainConfig).items():
        value = getattr(config, name)
        kinds = [kind for kind in typing.get_args(hint) or (hint,) if kind is not type(None)]
        if value is None and len(kinds) < len(typing.get_args(hint) or (hint,)):
            continue
        kind = kinds[0]
        if kind is float:
            good = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            wanted = "a finite number"
        elif kind is int:
            good, wanted = isinstance(value, int) and not isinstance(value, bool), "a whole number"
        else:
            good, wanted = isinstance(value, kind), f"a {kind.__name__}"
        if not good:
            raise ValueError(f"{name}={value!r} ({flag_of(name)}) must be {wanted}")


def course_config(**overrides: Any) -> TrainConfig:
    """The course's GPU preset: Landscapes at 128 x 128, ngf = ndf = 32, batch 16, the official initialization.

    Its time to quality on a GPU has not been measured (no GPU was lent to the course's runs):
    `benchmarks/gpu_check.sh` runs `benchmarks/time_to_quality.py --device cuda` on one.
    """
    settings = {"size": 128, "steps": 6000, "batch_size": 16, "ngf": 32, "ndf": 32, "checkpoint_every": 1000,
                "sample_every": 500, "num_workers": 0, "out": "runs/course"}
    return _with_decay({**settings, **overrides})


def cpu_config(**overrides: Any) -> TrainConfig:
    """The course's CPU preset: Landscapes at 64 x 64, narrow networks, no VGG, tuned for quality per CPU second.

    PyTorch's default initialization (init_type "none") rather than the official Xavier 0.02, under which every
    SPADE's gamma and beta start near zero; learning rates 4e-4 / 1.6e-3 (four times the official code's TTUR pair
    1e-4 / 4e-4); feature matching x 40 (the paper's 10); bf16 autocast where the CPU has bf16 instructions.
    Measured by benchmarks/time_to_quality.py on the demo (3 seeds, median (range); the README's time-to-quality
    section): after 150 s of training on a quiet 2-core AMD EPYC with AVX-512 bf16, 2 threads, the judges read the
    layout back at mIoU 0.87 (0.80-0.88), against 0.84 (0.81-0.84) with feature matching x 10.
    """
    settings = {"size": 64, "steps": 1500, "batch_size": 4, "ngf": 16, "ndf": 16, "spade_hidden": 32,
                "n_layers_D": 3, "lambda_feat": 40.0, "lambda_vgg": 0.0, "init_type": "none", "lr_G": 4e-4,
                "lr_D": 1.6e-3, "amp": "bf16" if cpu_has_bf16() else "auto", "checkpoint_every": 500,
                "sample_every": 250, "out": "runs/cpu"}
    return _with_decay({**settings, **overrides})


def cpu_has_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether this CPU has bfloat16 instructions (x86 AVX512-BF16 or AMX-BF16), read from Linux's cpuinfo."""
    try:
        flags = Path(cpuinfo).read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def fast_config(**overrides: Any) -> TrainConfig:
    """The fast-mode preset (tests, notebooks with SPADE_LESSON_FAST=1): 32 x 32, tiny networks, seconds on a CPU."""
    settings = {"size": 32, "steps": 4, "batch_size": 2, "ngf": 4, "spade_hidden": 8, "ndf": 4, "n_layers_D": 2,
                "lambda_vgg": 0.0, "checkpoint_every": 2, "sample_every": 2, "log_every": 1, "device": "cpu",
                "out": "runs/fast"}
    return _with_decay({**settings, **overrides})


def _with_decay(settings: dict[str, Any]) -> TrainConfig:
    """A preset's TrainConfig; unless set, the learning rates decay over the second half of the steps."""
    return TrainConfig(**{"decay_start": settings.get("steps", TrainConfig.steps) // 2, **settings})

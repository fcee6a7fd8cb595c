"""The paper's evaluation protocol (Park et al., CVPR 2019, Sec. 4): segment generated images, score against the input.

A segmentation network trained on REAL images of a dataset labels the images a generator made from that dataset's
label maps; the agreement of its labels with the input maps (mIoU, pixel accuracy) measures how faithfully the
generator follows the layout. The same network on the real images gives the ceiling.

`UNet(in_channels=3, num_classes=9, width=16, depth=3)`: a small U-Net, forward(image) -> logits (N, num_classes, H, W).
`train_segmenter(dataset, steps, ...)`: train one on a dataset's real images (cached on disk, keyed by its settings).
`evaluate(generator, dataset, segmenter, ...)`: {"miou", "pixel_acc"} of the generator's images;
`ceiling(dataset, segmenter, ...)`: the same scores for the real images.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from spade_lesson.data.batches import stack_items
from spade_lesson.data.semantic import IGNORE_INDEX
from spade_lesson.evaluation.metrics import confusion_matrix, miou, pixel_accuracy
from spade_lesson.layers.semantic_input import semantic_input
from spade_lesson.runtime.atomic import atomic_write

CACHE_DIR = "runs/segmenters"  # where trained segmenters are kept, one file per setting


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """(conv 3x3, BatchNorm, ReLU) twice: the U-Net's unit at one resolution."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """A small U-Net (Ronneberger et al. 2015): `depth` halvings, widths width * 2**level, skips joined by concat."""

    def __init__(self, in_channels: int = 3, num_classes: int = 9, width: int = 16, depth: int = 3) -> None:
        super().__init__()
        if num_classes < 2 or width < 1 or depth < 1:
            raise ValueError(f"UNet(num_classes={num_classes}, width={width}, depth={depth}): "
                             "use num_classes >= 2, width >= 1, depth >= 1")
        self.num_classes, self.depth = num_classes, depth
        widths = [width * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList([conv_block(in_channels, widths[0])] +
                                  [conv_block(widths[level - 1], widths[level]) for level in range(1, depth + 1)])
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[level + 1], widths[level], kernel_size=2, stride=2)
                                for level in reversed(range(depth)))
        self.merge = nn.ModuleList(conv_block(2 * widths[level], widths[level]) for level in reversed(range(depth)))
        self.classify = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image: (N, in_channels, H, W), H and W multiples of 2**depth -> logits (N, num_classes, H, W)."""
        if image.dim() != 4 or image.shape[-1] % 2**self.depth or image.shape[-2] % 2**self.depth:
            raise ValueError(f"UNet: image has shape {tuple(image.shape)}; pass (N, C, H, W) with H and W "
                             f"multiples of 2**depth = {2**self.depth}")
        skips = []
        x = image
        for level, block in enumerate(self.down):
            x = block(x if level == 0 else F.max_pool2d(x, kernel_size=2))
            skips.append(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            x = merge(torch.cat([up(x), skip], dim=1))  # decoder sees the encoder's features at its resolution
        return self.classify(x)


@dataclass(frozen=True)
class SegmenterConfig:
    """Everything that decides a trained segmenter: its cache key."""

    dataset: str  # fingerprint of the training data (see dataset_fingerprint)
    num_classes: int
    steps: int
    batch_size: int
    width: int
    depth: int
    lr: float
    seed: int

    def key(self) -> str:
        """A short stable hash of the settings (the checkpoint's file name)."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def dataset_fingerprint(dataset: Dataset) -> str:
    """A hash of a dataset's length and of its first and last items (label ids, images in 8-bit steps): different
    data, different cached segmenter. The images are hashed as 8-bit pixels because CPUs round the float maths that
    paints them differently in the last bits (numpy's AVX-512 sin and exp are not its AVX2 ones): one dataset, one key
    on every machine."""
    digest = hashlib.sha256(str(len(dataset)).encode())
    for index in (0, len(dataset) - 1):
        item = dataset[index]
        pixels = ((item["image"].float().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)  # [-1, 1] -> 0..255
        digest.update(item["label"].contiguous().numpy().tobytes())
        digest.update(pixels.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def segmenter_file(dataset: Dataset, steps: int, cache_dir: str | os.PathLike, batch_size: int = 16, width: int = 16,
                   depth: int = 3, lr: float = 2e-3, seed: int = 0) -> Path:
    """Where train_segmenter keeps the segmenter of these settings: <cache_dir>/segmenter-<key>.pt."""
    config = SegmenterConfig(dataset_fingerprint(dataset), dataset.num_classes, steps, batch_size, width, depth, lr,
                             seed)
    return Path(cache_dir) / f"segmenter-{config.key()}.pt"


def train_segmenter(dataset: Dataset, steps: int, batch_size: int = 16, width: int = 16, depth: int = 3,
                    lr: float = 2e-3, seed: int = 0, device: str | torch.device = "cpu",
                    cache_dir: str | os.PathLike | None = CACHE_DIR, progress: bool = True) -> UNet:
    """A UNet trained on the dataset's real images -> labels (cross-entropy, Adam, flips); loaded if cached."""
    if steps < 1 or batch_size < 1:
        raise ValueError(f"train_segmenter: steps={steps}, batch_size={batch_size}; both must be at least 1")
    if len(dataset) == 0:
        raise ValueError("train_segmenter: the dataset is empty; pass one with labelled images")
    config = SegmenterConfig(dataset_fingerprint(dataset), dataset.num_classes, steps, batch_size, width, depth, lr,
                             seed)
    device = torch.device(device)
    settings = {"batch_size": batch_size, "width": width, "depth": depth, "lr": lr, "seed": seed}
    path = segmenter_file(dataset, steps, cache_dir, **settings) if cache_dir is not None else None
    if path is not None and path.is_file():
        return load_segmenter(path, device)
    torch.manual_seed(seed)  # the weights, like the batches, follow from the settings
    model = UNet(3, config.num_classes, width, depth).to(device)
    fit(model, dataset, config, device, progress)
    if path is not None:
        save_segmenter(model, config, path)
    return model.eval()


def fit(model: UNet, dataset: Dataset, config: SegmenterConfig, device: torch.device, progress: bool,
        every: int = 0, on_step: Callable[[int, UNet], None] | None = None) -> None:
    """Train model in place for config.steps minibatches of random items, randomly mirrored left-right; with
    `every`, on_step(steps done, model) after every `every` steps (model in eval mode there; the training it sees
    is the same as without)."""
    from tqdm.auto import tqdm

    batch = stack_items(dataset, len(dataset))
    labels, images = batch["label"], batch["image"]
    rng = torch.Generator().manual_seed(config.seed)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    for step in tqdm(range(config.steps), desc="segmenter", disable=not progress, dynamic_ncols=True):
        for group in optimizer.param_groups:
            group["lr"] = config.lr * 0.5 * (1 + math.cos(math.pi * step / config.steps))  # cosine decay to 0
        index = torch.randint(len(labels), (config.batch_size,), generator=rng)
        image, label = images[index], labels[index]
        flip = torch.rand(config.batch_size, generator=rng) < 0.5
        image[flip], label[flip] = image[flip].flip(-1), label[flip].flip(-1)
        logits = model(image.to(device))
        loss = F.cross_entropy(logits, label.to(device), ignore_index=IGNORE_INDEX)  # -mean_p log softmax(l_p)[y_p]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if every and on_step is not None and (step + 1) % every == 0:
            model.eval()
            on_step(step + 1, model)
            model.train()
    model.eval()


def save_segmenter(model: UNet, config: SegmenterConfig, path: Path) -> None:
    """Write the weights and their settings atomically (a temporary file in the same folder, then os.replace)."""
    state = {"config": dataclasses.asdict(config), "state_dict": model.state_dict()}
    with atomic_write(path) as file:
        torch.save(state, file)


def load_segmenter(path: str | os.PathLike, device: str | torch.device = "cpu") -> UNet:
    """A segmenter written by train_segmenter, read with torch.load(weights_only=True), in eval mode."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        config = SegmenterConfig(**state["config"])
        model = UNet(3, config.num_classes, config.width, config.depth)
        model.load_state_dict(state["state_dict"])
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no segmenter there; train one with train_segmenter") from None
    except Exception as error:
        raise ValueError(f"{path}: not a readable segmenter checkpoint ({type(error).__name__}); delete it and "
                         "train again") from None
    return model.to(device).eval()


@torch.no_grad()
def segment(segmenter: UNet, image: torch.Tensor) -> torch.Tensor:
    """image: (N, 3, H, W) in [-1, 1] -> predicted class ids (N, H, W)."""
    return segmenter(image).argmax(dim=1)


@torch.no_grad()
def score(segmenter: UNet, dataset: Dataset,
          make_image: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor],
          num_images: int | None = None, batch_size: int = 16) -> dict[str, float]:
    """{"miou", "pixel_acc"} of segment(make_image(label, image, instance or None)) against label over the first
    num_images items."""
    count = len(dataset) if num_images is None else min(num_images, len(dataset))
    if count < 1:
        raise ValueError(f"score: num_images={num_images} leaves no image to score; pass at least 1")
    device = next(segmenter.parameters()).device
    was_training = segmenter.training
    segmenter.eval()
    conf = torch.zeros(dataset.num_classes, dataset.num_classes, dtype=torch.long)
    for start in range(0, count, batch_size):
        batch = stack_items(dataset, range(start, min(start + batch_size, count)))
        label, image, instance = batch["label"].to(device), batch["image"].to(device), batch.get("instance")
        made = make_image(label, image, instance).to(device)
        conf += confusion_matrix(segment(segmenter, made), label, dataset.num_classes)
    segmenter.train(was_training)
    return {"miou": miou(conf), "pixel_acc": pixel_accuracy(conf)}


def evaluate(generator: nn.Module, dataset: Dataset, segmenter: UNet, num_images: int | None = None,
             batch_size: int = 16, contain_dontcare_label: bool = False,
             no_instance: bool = True) -> dict[str, float]:
    """Scores of the images generator(m) makes from the dataset's label maps (generator in eval mode), m built as
    training built it (semantic_input with the run's options: **input_options(nets.config))."""
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device

    def generated(label: torch.Tensor, image: torch.Tensor, instance: torch.Tensor | None) -> torch.Tensor:
        """The generator's picture of this label map (and instance map; the real image is not used)."""
        semantic = semantic_input(label.to(device), dataset.num_classes, contain_dontcare_label, no_instance,
                                  None if instance is None else instance.to(device))
        return generator(semantic).float()

    try:
        return score(segmenter, dataset, generated, num_images, batch_size)
    finally:
        generator.train(was_training)


def ceiling(dataset: Dataset, segmenter: UNet, num_images: int | None = None, batch_size: int = 16) -> dict[str, float]:
    """Scores of the real images: the best a generator can expect from this segmenter."""
    return score(segmenter, dataset, lambda label, image, instance: image, num_images, batch_size)

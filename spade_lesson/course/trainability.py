"""Why normalize at all (notebook 02): the same small decoder trained with and without normalization.

The wash-out is a cost; this measures the benefit it is paid for. A narrow input-only generator
(spade_lesson.models.variants.InputOnlyGenerator: the label map at the input, stride-2 convs, SPADE's decoder blocks)
learns to redraw Landscapes photos from their label maps with a plain L1 loss (no GAN, so that trainability is all
that differs), with BatchNorm or with no normalization, from the same initial weights of every shared layer.

`fit_decoder(norm, lr, steps, seed=0, ...)` -> DecoderFit: the training loss of every step and the held-out L1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spade_lesson.data import Landscapes, one_hot
from spade_lesson.data.batches import stack_items
from spade_lesson.models.variants import InputOnlyGenerator

NORMS = ("batch", "none")


@dataclass(frozen=True)
class DecoderFit:
    """One training run: the L1 loss at every step, and the mean L1 on held-out maps after the last step."""

    norm: str
    lr: float
    seed: int
    losses: list[float]
    val_l1: float


def _split(size: int, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(labels (count, size, size), images (count, 3, size, size), classes) of a procedural Landscapes split."""
    data = Landscapes(size=size, length=count, seed=seed)
    batch = stack_items(data, count)
    return batch["label"], batch["image"], data.num_classes


def fit_decoder(norm: str, lr: float, steps: int, seed: int = 0, ngf: int = 4, size: int = 64, batch_size: int = 8,
                train_images: int = 64, val_images: int = 16) -> DecoderFit:
    """Train the input-only decoder with BatchNorm ("batch") or none ("none") by Adam on L1(G(m), photo)."""
    if norm not in NORMS:
        raise ValueError(f"norm={norm!r}: use one of {', '.join(NORMS)}")
    if steps < 1 or lr <= 0:
        raise ValueError(f"steps={steps}, lr={lr}: train at least 1 step at a positive learning rate")
    labels, images, classes = _split(size, train_images, seed=0)  # the same pictures for every run
    val_labels, val_images_, _ = _split(size, val_images, seed=1)
    torch.manual_seed(seed)  # both norms start from the same conv weights (norm layers hold no random draws)
    generator = InputOnlyGenerator(classes, ngf=ngf, crop_size=size, norm=norm, spectral=False)
    optimizer = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    order = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        batch = torch.randint(len(labels), (batch_size,), generator=order)
        loss = F.l1_loss(generator(one_hot(labels[batch], classes)), images[batch])  # mean |G(m) - x|
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    generator.eval()
    with torch.no_grad():
        val_l1 = F.l1_loss(generator(one_hot(val_labels, classes)), val_images_).item()
    return DecoderFit(norm, lr, seed, losses, val_l1)

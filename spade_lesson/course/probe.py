"""The linear probe: how much of the label map can a per-pixel linear classifier still read from activations?

Used by notebooks 02 and 03 to put a number on the paper's Sec. 3 claim that normalization "washes away" semantics:
`region_maps` draws label maps holding a chosen number of classes, `ConvNormStack` runs them through
conv -> norm -> ReLU layers with fixed random weights (every conv pads by reflection, so a uniform map stays
exactly uniform, as in the paper's argument), and `linear_probe` fits a per-pixel linear classifier on
the activations of training maps and scores it (pixel accuracy, mIoU) on held-out maps; `washout_sweep` runs the
whole measurement for several norms and numbers of classes per map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.data.semantic import IGNORE_INDEX, one_hot
from spade_lesson.evaluation.metrics import confusion_matrix, miou, pixel_accuracy
from spade_lesson.layers.blocks import norm_layer
from spade_lesson.layers.spade import SPADE

NORM_KINDS = ("none", "batch", "instance", "layer", "group", "spade")  # without affine; "spade" over instance norm
RIDGE = 1e-3  # the probe's L2 penalty per training pixel (keeps the solve well posed), for unit-scale activations
DECIMALS = 3  # the probe reads activations to 3 decimals: float rounding noise (~1e-5 after a norm) carries no label


def region_maps(n: int, size: int, num_classes: int, classes_per_map: int, seed: int = 0) -> torch.Tensor:
    """n label maps (n, size, size) of Voronoi regions, each holding exactly classes_per_map of num_classes classes."""
    if not 1 <= classes_per_map <= num_classes:
        raise ValueError(f"classes_per_map={classes_per_map} must be between 1 and num_classes={num_classes}")
    if 2 * classes_per_map > size * size:
        raise ValueError(f"size={size} is too small for {classes_per_map} regions per map; use a larger size")
    generator = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    pixels = torch.stack([ys.flatten(), xs.flatten()], dim=1).float()  # (size*size, 2)
    num_seeds = 2 * classes_per_map  # two regions per class, so a class need not be one convex blob
    maps = []
    for _ in range(n):
        classes = torch.randperm(num_classes, generator=generator)[:classes_per_map]
        seeds = pixels[torch.randperm(size * size, generator=generator)[:num_seeds]]  # distinct seed pixels
        nearest = torch.cdist(pixels, seeds).argmin(dim=1)  # each pixel joins its closest seed's region
        maps.append(classes[nearest % classes_per_map].reshape(size, size))  # seed j paints class j mod k
    return torch.stack(maps)


def _reinit(module: nn.Module) -> None:
    """Every conv inside module: reflection padding, Kaiming-normal weights, zero bias."""
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d):
            conv.padding_mode = "reflect"  # SPADE's convs too: no border artefacts for a norm to amplify
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")  # unit-scale activations (He et al.)
            nn.init.zeros_(conv.bias)


class ConvNormStack(nn.Module):
    """depth x (conv3x3 -> norm -> ReLU) on a one-hot label map; fixed Kaiming weights from `seed`, reflect padding."""

    def __init__(self, label_nc: int, norm: str, width: int = 32, depth: int = 4, groups: int = 4,
                 seed: int = 0) -> None:
        super().__init__()
        self.label_nc = label_nc
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # the same seed gives every norm the same conv weights: they are drawn first
            self.convs = nn.ModuleList(
                nn.Conv2d(label_nc if i == 0 else width, width, kernel_size=3, padding=1) for i in range(depth)
            )
            _reinit(self.convs)
            self.norms = nn.ModuleList(
                SPADE(width, label_nc, hidden=width, param_free_norm="instance") if norm == "spade"
                else norm_layer(norm, width, affine=False, num_groups=groups, choices=NORM_KINDS)
                for _ in range(depth)
            )
            _reinit(self.norms)

    def forward(self, label: torch.Tensor) -> list[torch.Tensor]:
        """label: (N, H, W) class ids -> the activations (N, width, H, W) after every layer, shallowest first."""
        segmap = one_hot(label, self.label_nc).to(self.convs[0].weight.device)
        x = segmap
        activations = []
        for conv, norm in zip(self.convs, self.norms):
            x = conv(x)
            x = norm(x, segmap) if isinstance(norm, SPADE) else norm(x)
            x = F.relu(x)
            activations.append(x)
        return activations


@dataclass(frozen=True)
class ProbeResult:
    """Scores of a linear probe on held-out maps, and the accuracy of always guessing the commonest class."""

    pixel_accuracy: float
    miou: float
    chance: float


def _pixels(features: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """features: (N, C, H, W), label: (N, H, W) -> per-pixel rows (P, C) read to DECIMALS and targets (P,)."""
    if features.dim() != 4 or features.shape[0] != label.shape[0] or features.shape[2:] != label.shape[1:]:
        raise ValueError(f"linear_probe: features {tuple(features.shape)} must be (N, C, H, W) matching the label "
                         f"maps {tuple(label.shape)}; upsample the activations to the label size first")
    rows = features.detach().permute(0, 2, 3, 1).reshape(-1, features.shape[1]).double().cpu()
    targets = label.reshape(-1).cpu().long()
    keep = targets != IGNORE_INDEX
    return torch.round(rows[keep], decimals=DECIMALS), targets[keep]


def fit_probe(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
              test_labels: torch.Tensor, num_classes: int) -> ProbeResult:
    """Fit a per-pixel linear classifier (a 1x1 conv) on train activations (N, C, H, W), score it on test ones."""
    # ridge least squares onto the one-hot targets, in closed form: no randomness, the same inputs give the same
    # scores; the prediction is the class with the highest score (ties: the lowest class id)
    x_train, y_train = _pixels(train_features, train_labels)
    x_test, y_test = _pixels(test_features, test_labels)
    for name, ids in (("train_labels", y_train), ("test_labels", y_test)):
        if len(ids) == 0 or int(ids.min()) < 0 or int(ids.max()) >= num_classes:
            raise ValueError(f"linear_probe: {name} must hold labelled pixels with ids 0..{num_classes - 1}")
    mean = x_train.mean(dim=0)
    centred = x_train - mean
    targets = F.one_hot(y_train, num_classes).double()
    prior = targets.mean(dim=0)  # the unpenalized intercept: each class's share of the training pixels
    gram = centred.T @ centred + RIDGE * len(centred) * torch.eye(centred.shape[1], dtype=torch.float64)
    weight = torch.linalg.solve(gram, centred.T @ (targets - prior))  # W = (X^T X + lambda P I)^-1 X^T (Y - prior)
    pred = ((x_test - mean) @ weight + prior).argmax(dim=1)
    conf = confusion_matrix(pred, y_test, num_classes)
    commonest = torch.bincount(y_train, minlength=num_classes).argmax()
    chance = float((y_test == commonest).double().mean())
    return ProbeResult(pixel_accuracy=pixel_accuracy(conf), miou=miou(conf), chance=chance)


def linear_probe(features: Callable[[torch.Tensor], torch.Tensor], train_labels: torch.Tensor,
                 test_labels: torch.Tensor, num_classes: int) -> ProbeResult:
    """How well a per-pixel linear classifier reads the labels from features: (N, H, W) ids -> (N, C, H, W)."""
    with torch.no_grad():
        return fit_probe(features(train_labels), train_labels, features(test_labels), test_labels, num_classes)


def probe_layers(stack: ConvNormStack, train_labels: torch.Tensor, test_labels: torch.Tensor) -> list[ProbeResult]:
    """linear_probe on the output of every layer of a ConvNormStack, shallowest first, running it once per split."""
    with torch.no_grad():
        train, test = stack(train_labels), stack(test_labels)
    return [fit_probe(a, train_labels, b, test_labels, stack.label_nc) for a, b in zip(train, test)]


def washout_sweep(norms: Sequence[str], class_counts: Sequence[int], num_classes: int = 8, size: int = 24,
                  n_train: int = 32, n_test: int = 16, width: int = 32, depth: int = 6,
                  device: torch.device | str = "cpu") -> dict[tuple[str, int], list[ProbeResult]]:
    """(norm, classes per map) -> probe results per layer, on fixed region maps (seeds 10+k, 20+k) and stack seed 0."""
    results = {}
    for k in class_counts:
        train = region_maps(n_train, size, num_classes, k, seed=10 + k).to(device)
        test = region_maps(n_test, size, num_classes, k, seed=20 + k).to(device)
        for norm in norms:
            stack = ConvNormStack(num_classes, norm, width=width, depth=depth, seed=0).to(device)
            results[norm, k] = probe_layers(stack, train, test)
    return results


def plot_washout(results: dict[tuple[str, int], list[ProbeResult]], chance: dict[int, float], names: dict[str, str],
                 highlight: str | None = None) -> None:
    """Draw the probe's accuracy per norm: against classes per map (first and last layer), then against depth.

    results[(norm, classes_per_map)] holds one ProbeResult per layer (as washout_sweep returns); `highlight` draws
    one norm thicker (notebook 03's SPADE).
    """
    import matplotlib.pyplot as plt

    norms = list(dict.fromkeys(norm for norm, _ in results))
    class_counts = sorted({k for _, k in results})
    depth = len(next(iter(results.values())))

    def draw(ax: Any, xs: Sequence[int], ys: Sequence[float], norm: str) -> None:
        bold = norm == highlight
        ax.plot(xs, ys, "s-" if bold else "o-", label=names[norm], lw=3 if bold else 1.5)

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), dpi=80)
    for ax, layer in zip(axes, [0, depth - 1]):
        for norm in norms:
            draw(ax, class_counts, [results[norm, k][layer].pixel_accuracy for k in class_counts], norm)
        ax.plot(class_counts, [chance[k] for k in class_counts], "k--", label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xticks(class_counts, class_counts)
        ax.set(xlabel="classes per map", ylabel="probe pixel accuracy", ylim=(0, 1.05))
        ax.set_title(f"after layer {layer + 1}", fontsize=10)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    plt.show()

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), dpi=80)
    for ax, k in zip(axes, class_counts[:2]):
        for norm in norms:
            draw(ax, range(1, depth + 1), [r.pixel_accuracy for r in results[norm, k]], norm)
        ax.axhline(chance[k], color="k", ls="--", label="chance")
        ax.set(xlabel="layer", ylabel="probe pixel accuracy", ylim=(0, 1.05))
        ax.set_title(f"maps with {k} class{'es' if k > 1 else ''}", fontsize=10)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    plt.show()

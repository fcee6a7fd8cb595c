"""spade_lesson.course.checks: a correct answer passes every case; a wrong one fails in one line naming case, values,
hint."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from spade_lesson.course import checks
from spade_lesson.course.checks import CheckFailed
from spade_lesson.evaluation.metrics import class_iou
from spade_lesson.layers.norms import batch_norm, group_norm, instance_norm


def stub(name: str) -> Callable[..., Any]:
    """An unsolved exercise as nbgrader leaves it: a function of that name raising NotImplementedError."""

    def unsolved(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError()

    unsolved.__name__ = name
    return unsolved


def fails(check: Callable[..., None], *functions: Callable[..., Any]) -> str:
    """The one-line verdict of a check that must fail."""
    with pytest.raises(CheckFailed) as failure:
        check(*functions)
    message = str(failure.value)
    assert "\n" not in message
    return message


def passes(check: Callable[..., None], capsys: pytest.CaptureFixture, *functions: Callable[..., Any]) -> str:
    """The success line of a check that must pass."""
    check(*functions)
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1 and printed.startswith(f"{check.__name__}: all ")
    return printed.strip()


# ---- correct answers, written independently of the notebooks' solutions ---------------------------------------


def batch_norm_train(x, weight, bias, eps=1e-5):
    mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
    return F.batch_norm(x, None, None, weight, bias, training=True, eps=eps), mean, var


def update_running(running_mean, running_var, num_batches_tracked, mean, var, m, momentum):
    factor = 1 / num_batches_tracked if momentum is None else momentum
    return torch.lerp(running_mean, mean, factor), torch.lerp(running_var, var * m / (m - 1), factor)


def my_group_norm(x, num_groups, eps=1e-5):
    return group_norm(x, num_groups, eps=eps)


def uniform_map_response(weight, bias, class_id):
    return torch.einsum("oij->o", weight[:, class_id]) + bias


def ridge_probe(x_train, y_train, x_test, num_classes, ridge=1e-3):
    mean = x_train.mean(dim=0)
    targets = F.one_hot(y_train, num_classes).double()
    prior = targets.mean(dim=0)
    x = x_train - mean
    weight = torch.linalg.inv(x.T @ x + ridge * len(x) * torch.eye(x.shape[1], dtype=x.dtype)) @ x.T @ (targets - prior)
    return ((x_test - mean) @ weight + prior).argmax(dim=1)


def spade_forward(x, segmap, mlp_shared, mlp_gamma, mlp_beta):
    embedding = mlp_shared(F.interpolate(segmap, size=tuple(x.shape[2:]), mode="nearest"))
    return batch_norm(x) * (1 + mlp_gamma(embedding)) + mlp_beta(embedding)


def split_params(num_features, params):
    chunks = params.split([c for n in num_features for c in (n, n)], dim=1)
    return list(zip(chunks[0::2], chunks[1::2]))


def spade_parameter_count(norm_nc, label_nc, hidden=128, kernel_size=3):
    k2 = kernel_size**2
    return (label_nc * k2 + 1) * hidden + 2 * (hidden * k2 + 1) * norm_nc


def start_size(crop_size, aspect_ratio, num_upsampling_layers):
    width = crop_size >> {"normal": 5, "more": 6, "most": 7}[num_upsampling_layers]
    return round(width / aspect_ratio), width


def patch_grid_size(size, n_layers_D):
    for _ in range(n_layers_D - 1):
        size = size // 2 + 1
    return size + 2


def hinge_d(real_logits, fake_logits):
    return (1 - real_logits).clamp(min=0).mean() + (1 + fake_logits).clamp(min=0).mean()


def hinge_g(fake_logits):
    return -fake_logits.mean()


def kl(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum()


def miou_from_confusion(conf):
    return float(class_iou(conf).nanmean())


def my_frechet_distance(mu1, sigma1, mu2, sigma2):
    cross = torch.linalg.eigvals(sigma1.double() @ sigma2.double()).real.clamp(min=0).sqrt().sum()
    return float((mu1 - mu2).double().square().sum() + sigma1.trace() + sigma2.trace() - 2 * cross)


def flood_fill(label, x, y, class_id):
    out = label.copy()
    target = out[y, x]
    if target == class_id:
        return out
    queue = deque([(y, x)])
    out[y, x] = class_id
    while queue:
        r, c = queue.popleft()
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= nr < out.shape[0] and 0 <= nc < out.shape[1] and out[nr, nc] == target:
                out[nr, nc] = class_id
                queue.append((nr, nc))
    return out


def brush_mask(height, width, x, y, size):
    rows, columns = np.indices((height, width))
    return np.hypot(rows - int(y), columns - int(x)) <= size / 2


def interpolate_styles(z_a, z_b, steps):
    return torch.stack([z_a[0] + (z_b[0] - z_a[0]) * t / (steps - 1) for t in range(steps)])


# ---- typical mistakes ------------------------------------------------------------------------------------------


def recursive_flood_fill(label, x, y, class_id):
    out = label.copy()
    target = out[y, x]

    def visit(r, c):
        if 0 <= r < out.shape[0] and 0 <= c < out.shape[1] and out[r, c] == target != class_id:
            out[r, c] = class_id
            for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                visit(nr, nc)

    visit(y, x)
    return out


def in_place_flood_fill(label, x, y, class_id):
    filled = flood_fill(label, x, y, class_id)
    label[...] = filled
    return filled


def eight_connected_flood_fill(label, x, y, class_id):
    out = label.copy()
    target, todo = out[y, x], [(y, x)]
    out[y, x] = class_id
    while todo:
        r, c = todo.pop()
        for nr in (r - 1, r, r + 1):
            for nc in (c - 1, c, c + 1):
                if 0 <= nr < out.shape[0] and 0 <= nc < out.shape[1] and out[nr, nc] == target:
                    out[nr, nc] = class_id
                    todo.append((nr, nc))
    return out


def clade_forward(x, segmap, gamma_table, beta_table):
    normalized = F.batch_norm(x, None, None, training=True)
    segmap = F.interpolate(segmap, size=x.shape[2:], mode="nearest")
    gamma = torch.einsum("nlhw,lc->nchw", segmap, gamma_table)
    beta = torch.einsum("nlhw,lc->nchw", segmap, beta_table)
    return normalized * (1 + gamma) + beta


def gathered_clade_forward(x, segmap, gamma_table, beta_table):
    index = F.interpolate(segmap, size=x.shape[2:], mode="nearest").argmax(dim=1)  # don't care read as class 0
    normalized = F.batch_norm(x, None, None, training=True)
    return normalized * (1 + gamma_table[index].permute(0, 3, 1, 2)) + beta_table[index].permute(0, 3, 1, 2)


def sample_style(mu, logvar, noise):
    return mu + torch.exp(0.5 * logvar) * noise


def spade_branch_macs(norm_nc, label_nc, hidden, kernel_size, height, width):
    k2 = kernel_size**2
    return height * width * (label_nc * hidden * k2 + 2 * hidden * norm_nc * k2 + norm_nc)


CORRECT = [
    (checks.check_batch_norm_train, [batch_norm_train]),
    (checks.check_update_running, [update_running]),
    (checks.check_group_norm, [my_group_norm]),
    (checks.check_uniform_map_response, [uniform_map_response]),
    (checks.check_ridge_probe, [ridge_probe]),
    (checks.check_spade_forward, [spade_forward]),
    (checks.check_split_params, [split_params]),
    (checks.check_spade_parameter_count, [spade_parameter_count]),
    (checks.check_start_size, [start_size]),
    (checks.check_patch_grid_size, [patch_grid_size]),
    (checks.check_hinge_loss, [hinge_d, hinge_g]),
    (checks.check_kl, [kl]),
    (checks.check_miou_from_confusion, [miou_from_confusion]),
    (checks.check_frechet_distance, [my_frechet_distance]),
    (checks.check_flood_fill, [flood_fill]),
    (checks.check_brush_mask, [brush_mask]),
    (checks.check_interpolate_styles, [interpolate_styles]),
    (checks.check_sample_style, [sample_style]),
    (checks.check_clade_forward, [clade_forward]),
    (checks.check_spade_branch_macs, [spade_branch_macs]),
]

def bn_answer(out=None, mean=None, var=None):
    """batch_norm_train with some of its three results replaced: each a function of (x, weight, bias, eps)."""

    def answer(x, weight, bias, eps=1e-5):
        right = batch_norm_train(x, weight, bias, eps)
        return tuple(right[i] if f is None else f(x, weight, bias, eps) for i, f in enumerate((out, mean, var)))

    return answer


def channels(t):
    return t[None, :, None, None]


def centred(x):
    return x - channels(x.mean(dim=(0, 2, 3)))


def biased(x):
    return x.var(dim=(0, 2, 3), unbiased=False)


def running_answer(factor=None, stored_var=None):
    """update_running with its blend factor or its stored variance replaced."""

    def answer(running_mean, running_var, num_batches_tracked, mean, var, m, momentum):
        right = 1 / num_batches_tracked if momentum is None else momentum
        f = right if factor is None else factor(num_batches_tracked, momentum, right)
        stored = var * m / (m - 1) if stored_var is None else stored_var(var, m)
        return torch.lerp(running_mean, mean, f), torch.lerp(running_var, stored, f)

    return answer


def grouped_unbiased(x, num_groups, eps=1e-5):
    g = x.reshape(x.shape[0], num_groups, -1)
    return ((g - g.mean(dim=2, keepdim=True)) / (g.var(dim=2, keepdim=True) + eps).sqrt()).reshape(x.shape)


def grouped_by_stride(x, num_groups, eps=1e-5):
    n, c = x.shape[:2]
    strided = x.reshape(n, c // num_groups, num_groups, *x.shape[2:]).transpose(1, 2).reshape(x.shape)
    out = F.group_norm(strided, num_groups, eps=eps)
    return out.reshape(n, num_groups, c // num_groups, *x.shape[2:]).transpose(1, 2).reshape(x.shape)


def ridge_answer(centre=True, scale=True, use_ridge=True, add_prior=True):
    """A ridge probe written with one of the choices made wrong."""

    def ridge_probe(x_train, y_train, x_test, num_classes, ridge=1e-3):
        mean = x_train.mean(dim=0) if centre else torch.zeros(x_train.shape[1], dtype=x_train.dtype)
        x = x_train - mean
        targets = F.one_hot(y_train, num_classes).double()
        prior = targets.mean(dim=0)
        penalty = (ridge * (len(x) if scale else 1)) if use_ridge else 0.0
        weight = torch.linalg.pinv(x.T @ x + penalty * torch.eye(x.shape[1], dtype=x.dtype)) @ x.T @ (targets - prior)
        return ((x_test - mean) @ weight + (prior if add_prior else 0)).argmax(dim=1)

    return ridge_probe


def spade_answer(mode="nearest", norm=batch_norm, one_plus=1.0, swap=False):
    """spade_forward with one step done differently."""

    def answer(x, segmap, mlp_shared, mlp_gamma, mlp_beta):
        embedding = mlp_shared(F.interpolate(segmap, size=tuple(x.shape[2:]), mode=mode))
        gamma, beta = mlp_gamma(embedding), mlp_beta(embedding)
        if swap:
            gamma, beta = beta, gamma
        return norm(x) * (one_plus + gamma) + beta

    return answer


def grid(size, n_layers_D, plus_one=1, last=2):
    for _ in range(n_layers_D - 1):
        size = size // 2 + plus_one
    return size + last


def kl_terms(mu, logvar):
    return 1 + logvar - mu**2 - logvar.exp()


def frechet_answer(combine):
    """A Frechet distance that combines its three parts wrongly: combine(means' squared distance, traces, cross)."""

    def my_frechet_distance(mu1, sigma1, mu2, sigma2):
        cross = torch.linalg.eigvals(sigma1.double() @ sigma2.double()).real.clamp(min=0).sqrt().sum()
        return float(combine((mu1 - mu2).double().square().sum(), sigma1.trace() + sigma2.trace(), cross))

    return my_frechet_distance


def psd_root(sigma):
    values, vectors = torch.linalg.eigh(sigma.double())
    return vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T


def all_of_the_id(label, x, y, class_id):
    return np.where(label == label[y, x], class_id, label).astype(label.dtype)


def swapped_flood_fill(label, x, y, class_id):
    """flood_fill written with label[x, y]: the fill starts at row x, column y."""
    return flood_fill(label, y, x, class_id)


def brush_answer(snap=True, radius=lambda size: size / 2, strict=False, swap=False):
    def brush_mask(height, width, x, y, size):
        if swap:
            x, y = y, x
        cx, cy = (np.floor(x) + 0.5, np.floor(y) + 0.5) if snap else (x, y)
        rows, columns = np.indices((height, width)) + 0.5
        distance = np.hypot(columns - cx, rows - cy)
        return distance < radius(size) if strict else distance <= radius(size)

    return brush_mask


WRONG = [  # (check, functions, what the verdict must say): the verdict names the case, the values, and shapes
    (checks.check_batch_norm_train, [bn_answer(var=lambda x, w, b, eps: x.var(dim=(0, 2, 3)))],
     ["case 1 of 4 (x (6, 3, 4, 5), eps=0.001): var at index (0,): expected 3.503, got 3.532"]),
    (checks.check_batch_norm_train, [lambda x, weight, bias, eps=1e-5: batch_norm_train(x, weight, bias, eps)[0]],
     ["case 1 of 4", "should return 3 values, got Tensor of shape (6, 3, 4, 5)"]),
    (checks.check_update_running, [running_answer(stored_var=lambda var, m: var)],
     ["case 1 of 3 (momentum=0.1, 3 batches): running_var after batch 1 at index (0,): expected"]),
    (checks.check_group_norm, [lambda x, num_groups, eps=1e-5: x * 2],
     ["case 1 of 5 (x (3, 6, 4, 5), num_groups=1): output at index (0, 0, 0, 0): expected", "neighbouring channels"]),
    (checks.check_uniform_map_response, [lambda weight, bias, class_id: weight[:, class_id].sum(dim=(1, 2)) + 2 * bias],
     ["case 1 of 3 (conv 9 -> 16 channels, kernel 3x3): class 0 at index (0,): expected", "which weights meet a 1"]),
    (checks.check_ridge_probe, [lambda x_train, y_train, x_test, num_classes, ridge: torch.zeros(len(x_test))],
     ["case 1 of 3 (4 features, 3 classes, ridge=0.001, centres spread 2.0): predicted class at index"]),
    (checks.check_spade_forward, [lambda x, segmap, shared, gamma, beta: x * (1 + gamma(shared(segmap)))],
     ["case 1 of 3", "raised RuntimeError", "(call <lambda> yourself to see the full traceback)"]),
    (checks.check_spade_forward, [spade_answer(one_plus=0.0)],
     ["case 1 of 3 (x (4, 6, 32, 32), segmap (4, 4, 64, 64)): output at index (0, 0, 0, 0): expected"]),
    (checks.check_split_params, [lambda num_features, params: split_params(num_features, params)[:1]],
     ["case 1 of 3", "expected a list of 3 (weight, bias) pairs, got list"]),
    (checks.check_split_params, [lambda num_features, params: [(w,) for w, b in split_params(num_features, params)]],
     ["case 1 of 3", "layer 0: expected a (weight, bias) pair, got tuple"]),
    (checks.check_spade_parameter_count, [lambda norm_nc, label_nc, hidden, kernel_size:
                                          (label_nc + 2 * norm_nc) * hidden * kernel_size**2],
     ["case 1 of 4 (norm_nc=64, label_nc=9, hidden=128, kernel_size=3): parameters: expected 158080, got 157824"]),
    (checks.check_start_size, [lambda crop_size, aspect_ratio, mode: start_size(crop_size, aspect_ratio, mode)[::-1]],
     ["case 2 of 5 (crop_size=512, aspect_ratio=2.0, 'normal'): (height, width): expected (8, 16), got (16, 8)"]),
    (checks.check_patch_grid_size, [lambda size, n_layers_D: size // 2 ** (n_layers_D - 1)],
     ["case 1 of 4 (size=128, n_layers_D=4): logit grid side: expected 19, got 16"]),
    (checks.check_hinge_loss, [hinge_d, lambda fake: fake.mean()], ["case 1 of 3", "hinge_g: expected"]),
    (checks.check_kl, [lambda mu, logvar: kl(mu, logvar) * 1.01],
     ["case 1 of 3 (random, mu and logvar (3, 8)): KL: expected", "closed form"]),
    (checks.check_miou_from_confusion, [lambda conf: float(conf.diagonal().sum() / conf.sum())],
     ["case 1 of 4 (two classes, conf [[3, 1], [0, 4]]): mIoU: expected 0.775, got 0.875"]),
    (checks.check_frechet_distance, [lambda mu1, s1, mu2, s2: my_frechet_distance(mu1, s1, mu2, s2) - 3.0],
     ["case 1 of 5 (diagonal covariances, dim 3): distance: expected 14, got 11"]),
    (checks.check_flood_fill, [in_place_flood_fill], ["case 1 of 22", "the map passed in", "label.copy()"]),
    (checks.check_brush_mask, [lambda height, width, x, y, size: brush_mask(height, width, x - 0.5, y - 0.5, size)],
     ["case 1 of 5 (12 x 16 map, x=5.2, y=7.9, size=1): mask at index"]),
    (checks.check_brush_mask, [lambda height, width, x, y, size: brush_mask(height, width, x, y, size).tolist()],
     ["case 1 of 5", "mask: expected an array of shape (12, 16), got list"]),
    (checks.check_interpolate_styles, [lambda z_a, z_b, steps: interpolate_styles(z_a, z_b, steps) * 2],
     ["case 1 of 3 (z_dim=8, steps=5): codes at index (0, 0): expected"]),
    (checks.check_sample_style, [lambda mu, logvar, noise: sample_style(mu, logvar, noise) + 1],
     ["case 1 of 3 (random, mu and logvar (1, 8)): z at index (0, 0): expected"]),
    (checks.check_clade_forward, [lambda x, segmap, gamma, beta: clade_forward(x, segmap, gamma, beta) + 1],
     ["case 1 of 3 (x (4, 6, 16, 16), segmap (4, 4, 16, 16)): output at index"]),
    (checks.check_spade_branch_macs,
     [lambda c, n, h, k, height, width: spade_branch_macs(c, n, h, k, height, width) + 1],
     ["case 1 of 4 (norm_nc=16, label_nc=9, hidden=32, kernel_size=3, 8 x 8): multiply-adds: expected 756736, got "
      "756737"]),
]

MISTAKES = [  # (check, a wrong answer that makes one typical mistake, the name the verdict must give it)
    (checks.check_batch_norm_train, [bn_answer(mean=lambda x, w, b, eps: x.mean(dim=(2, 3)))],
     "per-sample statistics"),
    (checks.check_batch_norm_train, [bn_answer(mean=lambda x, w, b, eps: x.mean(dim=0))],
     "the mean over the batch dimension only"),
    (checks.check_batch_norm_train, [bn_answer(mean=lambda x, w, b, eps: x.mean())], "one mean for the whole tensor"),
    (checks.check_batch_norm_train, [bn_answer(var=lambda x, w, b, eps: x.var(dim=(0, 2, 3)))],
     "the unbiased variance"),
    (checks.check_batch_norm_train, [bn_answer(var=lambda x, w, b, eps: biased(x).sqrt())],
     "the standard deviation instead of the variance"),
    (checks.check_batch_norm_train, [bn_answer(var=lambda x, w, b, eps: x.var(dim=(2, 3), unbiased=False))],
     "per-sample statistics"),
    (checks.check_batch_norm_train, [bn_answer(out=lambda x, w, b, eps: F.instance_norm(x, weight=w, bias=b, eps=eps))],
     "instance norm instead of batch norm"),
    (checks.check_batch_norm_train,
     [bn_answer(out=lambda x, w, b, eps: centred(x) / channels((x.var(dim=(0, 2, 3)) + eps).sqrt()) * channels(w)
                + channels(b))],
     "the unbiased variance in the normalization"),
    (checks.check_batch_norm_train,
     [bn_answer(out=lambda x, w, b, eps: centred(x) / channels(biased(x).sqrt() + eps) * channels(w) + channels(b))],
     "eps outside the square root"),
    (checks.check_batch_norm_train,
     [bn_answer(out=lambda x, w, b, eps: centred(x) / channels(biased(x) + eps) * channels(w) + channels(b))],
     "a division by the variance"),
    (checks.check_batch_norm_train, [bn_answer(out=lambda x, w, b, eps: batch_norm_train(x, b, w, eps)[0])],
     "weight and bias swapped"),
    (checks.check_batch_norm_train, [bn_answer(out=lambda x, w, b, eps: batch_norm(x, eps=eps))],
     "the affine part left out"),
    (checks.check_update_running, [running_answer(factor=lambda t, momentum, right: 1 - right)],
     "momentum on the old value"),
    (checks.check_update_running, [running_answer(factor=lambda t, momentum, right: momentum or 0.1)],
     "momentum=None treated as a fixed momentum"),
    (checks.check_update_running,
     [running_answer(factor=lambda t, momentum, right: 1 / (t + 1) if momentum is None else momentum)],
     "an off-by-one cumulative average"),
    (checks.check_update_running, [running_answer(stored_var=lambda var, m: var)], "the biased variance stored"),
    (checks.check_group_norm, [lambda x, num_groups, eps=1e-5: F.instance_norm(x, eps=eps)],
     "instance norm (one group per channel)"),
    (checks.check_group_norm, [lambda x, num_groups, eps=1e-5: F.layer_norm(x, x.shape[1:], eps=eps)],
     "layer norm (one group for all channels)"),
    (checks.check_group_norm, [grouped_unbiased], "the unbiased variance"),
    (checks.check_group_norm, [grouped_by_stride], "channels grouped by stride"),
    (checks.check_uniform_map_response, [lambda weight, bias, class_id: weight[:, class_id].sum(dim=(1, 2))],
     "the bias left out"),
    (checks.check_uniform_map_response,
     [lambda weight, bias, class_id: weight[:, class_id].mean(dim=(1, 2)) + bias], "a mean instead of a sum"),
    (checks.check_uniform_map_response, [lambda weight, bias, class_id: weight[:, class_id, 1, 1] + bias],
     "the centre tap only"),
    (checks.check_uniform_map_response, [lambda weight, bias, class_id: weight.sum(dim=(1, 2, 3)) + bias],
     "a sum over every input channel"),
    (checks.check_ridge_probe, [ridge_answer(use_ridge=False)], "the ridge left out"),
    (checks.check_ridge_probe, [ridge_answer(scale=False)], "a ridge not multiplied by the number of samples P"),
    (checks.check_ridge_probe, [ridge_answer(centre=False)], "uncentred features"),
    (checks.check_ridge_probe, [ridge_answer(add_prior=False)], "the prior not added back"),
    (checks.check_spade_forward, [spade_answer(one_plus=0.0)], "missing `1 +`"),
    (checks.check_spade_forward, [spade_answer(mode="bilinear")], "a bilinear resize of the label map"),
    (checks.check_spade_forward, [spade_answer(mode="nearest-exact")], "'nearest-exact' instead of 'nearest'"),
    (checks.check_spade_forward, [spade_answer(norm=instance_norm)], "instance norm instead of batch norm"),
    (checks.check_spade_forward, [spade_answer(norm=lambda x: x)], "no normalization"),
    (checks.check_spade_forward, [spade_answer(swap=True)], "gamma and beta swapped"),
    (checks.check_split_params, [lambda num_features, params: [(b, w) for w, b in split_params(num_features, params)]],
     "weight and bias swapped"),
    (checks.check_split_params,
     [lambda num_features, params: list(zip(params[:, :sum(num_features)].split(num_features, dim=1),
                                            params[:, sum(num_features):].split(num_features, dim=1)))],
     "all the weights first, then all the biases"),
    (checks.check_spade_parameter_count,
     [lambda norm_nc, label_nc, hidden, kernel_size: (label_nc + 2 * norm_nc) * hidden * kernel_size**2],
     "the biases left out"),
    (checks.check_spade_parameter_count,
     [lambda norm_nc, label_nc, hidden, kernel_size: spade_parameter_count(norm_nc, label_nc, hidden, 1)
      + (label_nc * hidden + 2 * hidden * norm_nc) * (kernel_size - 1)],
     "the kernel counted as k, not k * k"),
    (checks.check_spade_parameter_count,
     [lambda norm_nc, label_nc, hidden, kernel_size: (label_nc * kernel_size**2 + 1) * hidden
      + (hidden * kernel_size**2 + 1) * norm_nc],
     "one of mlp_gamma and mlp_beta counted"),
    (checks.check_spade_parameter_count,
     [lambda norm_nc, label_nc, hidden, kernel_size: 2 * (hidden * kernel_size**2 + 1) * norm_nc],
     "mlp_shared left out"),
    (checks.check_spade_parameter_count,
     [lambda norm_nc, label_nc, hidden, kernel_size: spade_parameter_count(norm_nc, label_nc, hidden, kernel_size)
      + 2 * norm_nc],
     "affine parameters counted in the norm"),
    (checks.check_start_size, [lambda crop_size, aspect_ratio, mode: start_size(crop_size, aspect_ratio, mode)[::-1]],
     "height and width swapped"),
    (checks.check_start_size,
     [lambda crop_size, aspect_ratio, mode: (round(start_size(crop_size, 1.0, mode)[1] * aspect_ratio),
                                             start_size(crop_size, 1.0, mode)[1])],
     "the height multiplied by the aspect ratio"),
    (checks.check_start_size, [lambda crop_size, aspect_ratio, mode: start_size(crop_size // 2, aspect_ratio, mode)],
     "one doubling too many"),
    (checks.check_start_size, [lambda crop_size, aspect_ratio, mode: start_size(crop_size * 2, aspect_ratio, mode)],
     "one doubling too few"),
    (checks.check_patch_grid_size, [lambda size, n_layers_D: size // 2 ** (n_layers_D - 1)],
     "a plain division by 2**(n_layers_D - 1)"),
    (checks.check_patch_grid_size, [lambda size, n_layers_D: grid(size, n_layers_D, plus_one=0)],
     "the + 1 of each stride-2 conv left out"),
    (checks.check_patch_grid_size, [lambda size, n_layers_D: grid(size, n_layers_D, last=0)],
     "the last two convs (stride 1) left out"),
    (checks.check_hinge_loss, [lambda real, fake: F.relu(1 - real).sum() + F.relu(1 + fake).sum(), hinge_g],
     "a sum instead of a mean"),
    (checks.check_hinge_loss, [lambda real, fake: F.relu(1 + real).mean() + F.relu(1 - fake).mean(), hinge_g],
     "swapped signs"),
    (checks.check_hinge_loss, [lambda real, fake: (1 - real).mean() + (1 + fake).mean(), hinge_g],
     "the max(0, .) left out"),
    (checks.check_hinge_loss, [lambda real, fake: F.relu(1 - real).mean(), hinge_g], "the fake term left out"),
    (checks.check_hinge_loss, [lambda real, fake: F.relu(1 + fake).mean(), hinge_g], "the real term left out"),
    (checks.check_hinge_loss, [hinge_d, lambda fake: fake.mean()], "a swapped sign"),
    (checks.check_hinge_loss, [hinge_d, lambda fake: F.relu(1 - fake).mean()], "a hinge for the generator"),
    (checks.check_hinge_loss, [hinge_d, lambda fake: -fake.sum()], "a sum instead of a mean"),
    (checks.check_kl, [lambda mu, logvar: -0.5 * kl_terms(mu, logvar).mean()], "a mean instead of a sum"),
    (checks.check_kl, [lambda mu, logvar: kl(mu, logvar) / len(mu)], "a mean over the batch"),
    (checks.check_kl, [lambda mu, logvar: 0.5 * kl_terms(mu, logvar).sum()], "a swapped sign"),
    (checks.check_kl, [lambda mu, logvar: -0.5 * (logvar - mu**2 - logvar.exp()).sum()], "the 1 left out"),
    (checks.check_kl, [lambda mu, logvar: -kl_terms(mu, logvar).sum()], "the factor -1/2 replaced by -1"),
    (checks.check_kl, [lambda mu, logvar: -0.5 * (1 + torch.log(logvar**2) - mu**2 - logvar**2).sum()],
     "logvar read as sigma"),
    (checks.check_kl, [lambda mu, logvar: -0.5 * (1 + logvar - mu**2 - logvar).sum()],
     "logvar used as the variance in the last term"),
    (checks.check_kl, [lambda mu, logvar: -0.5 * (1 + torch.log(logvar) - mu**2 - logvar).sum()],
     "logvar used as the variance (its log taken again)"),
    (checks.check_miou_from_confusion, [lambda conf: float(conf.diagonal().sum() / conf.sum())],
     "pixel accuracy, not mIoU"),
    (checks.check_miou_from_confusion, [lambda conf: float(class_iou(conf).nan_to_num().mean())],
     "absent classes counted as IoU 0"),
    (checks.check_miou_from_confusion, [lambda conf: float(class_iou(conf).mean())], "absent classes left as NaN"),
    (checks.check_miou_from_confusion,
     [lambda conf: float((conf.diagonal() / (conf.sum(0) + conf.sum(1))).nanmean())], "TP counted twice in the union"),
    (checks.check_miou_from_confusion, [lambda conf: float((conf.diagonal() / conf.sum(1)).nanmean())],
     "per-class recall"),
    (checks.check_miou_from_confusion, [lambda conf: float((conf.diagonal() / conf.sum(0)).nanmean())],
     "per-class precision"),
    (checks.check_frechet_distance,
     [frechet_answer(lambda means, traces, cross: means + traces - cross)],
     "the factor 2 of the cross term left out"),
    (checks.check_frechet_distance,
     [frechet_answer(lambda means, traces, cross: traces - 2 * cross)],
     "the means' term left out"),
    (checks.check_frechet_distance,
     [frechet_answer(lambda means, traces, cross: means.sqrt() + traces - 2 * cross)],
     "the means' distance not squared"),
    (checks.check_frechet_distance,
     [lambda mu1, s1, mu2, s2: float((mu1 - mu2).double().square().sum() + s1.trace() + s2.trace()
                                     - 2 * (psd_root(s1) @ psd_root(s2)).trace())],
     "the square roots taken separately"),
    (checks.check_frechet_distance,
     [lambda mu1, s1, mu2, s2: float((mu1 - mu2).double().square().sum() + s1.trace() + s2.trace()
                                     - 2 * torch.linalg.eigvalsh(s1.double() @ s2.double()).clamp(min=0).sqrt().sum())],
     "eigvalsh of the non-symmetric sigma1 @ sigma2"),
    (checks.check_flood_fill, [eight_connected_flood_fill], "an 8-connected fill"),
    (checks.check_flood_fill, [all_of_the_id], "every pixel of the clicked id recoloured"),
    (checks.check_flood_fill, [swapped_flood_fill], "x and y swapped"),
    (checks.check_flood_fill, [recursive_flood_fill], "a recursion deeper than Python allows"),
    (checks.check_brush_mask, [brush_answer(snap=False)], "the click not snapped to its pixel's centre"),
    (checks.check_brush_mask, [brush_answer(radius=lambda size: size)], "the diameter used as the radius"),
    (checks.check_brush_mask, [brush_answer(strict=True)], "a strict <"),
    (checks.check_brush_mask, [brush_answer(swap=True)], "x and y swapped"),
    (checks.check_interpolate_styles,
     [lambda z_a, z_b, steps: torch.lerp(z_a, z_b, torch.arange(steps)[:, None] / steps)],
     "t / steps instead of t / (steps - 1)"),
    (checks.check_interpolate_styles, [lambda z_a, z_b, steps: interpolate_styles(z_b, z_a, steps)],
     "the walk reversed"),
    (checks.check_interpolate_styles,
     [lambda z_a, z_b, steps: torch.lerp(z_a, z_b, torch.linspace(0, 1, steps + 2)[1:-1, None])],
     "the end points left out"),
    (checks.check_interpolate_styles, [lambda z_a, z_b, steps: interpolate_styles(z_a, z_b, steps)[None]],
     "an extra batch dimension"),
    (checks.check_sample_style, [lambda mu, logvar, noise: mu + logvar.exp() * noise],
     "the variance in place of the standard deviation"),
    (checks.check_sample_style, [lambda mu, logvar, noise: mu + logvar * noise],
     "logvar used as the standard deviation"),
    (checks.check_sample_style, [lambda mu, logvar, noise: torch.exp(0.5 * logvar) * noise], "the mean left out"),
    (checks.check_sample_style, [lambda mu, logvar, noise: mu + torch.exp(0.5 * logvar) + noise],
     "the noise added, not scaled"),
    (checks.check_sample_style, [lambda mu, logvar, noise: mu], "the noise left out"),
    (checks.check_sample_style, [lambda mu, logvar, noise: sample_style(logvar, mu, noise)], "mu and logvar swapped"),
    (checks.check_clade_forward, [lambda x, segmap, gamma, beta: clade_forward(x, segmap, gamma - 1, beta)],
     "the scale gamma instead of 1 + gamma"),
    (checks.check_clade_forward,
     [lambda x, segmap, gamma, beta: clade_forward(x, F.interpolate(segmap, size=x.shape[2:], mode="bilinear"),
                                                   gamma, beta)],
     "a bilinear resize of the label map"),
    (checks.check_clade_forward, [gathered_clade_forward], "pixels of no class (all-zero vectors) read as class 0"),
    (checks.check_spade_branch_macs,
     [lambda c, n, h, k, height, width: spade_branch_macs(c, n, h, k, height, width) - height * width * c],
     "the modulation left out"),
    (checks.check_spade_branch_macs, [lambda c, n, h, k, height, width: height * width * (n * h + 2 * h * c + c)],
     "C_in products per output value, not C_in * k * k"),
]

TYPICAL_MISTAKES = {  # the mistakes learners most often make, and the check that must recognise each
    "missing `1 +`": checks.check_spade_forward,
    "a bilinear resize of the label map": checks.check_spade_forward,
    "instance norm instead of batch norm": checks.check_spade_forward,
    "a mean instead of a sum": checks.check_kl,
    "swapped signs": checks.check_hinge_loss,
}


@pytest.fixture(autouse=True)
def fresh_counts(monkeypatch):
    """Every test starts as a session in which no check has failed yet."""
    monkeypatch.setattr(checks.core, "_failed_calls", Counter())


@pytest.mark.parametrize(("check", "functions"), CORRECT, ids=lambda value: getattr(value, "__name__", ""))
def test_a_correct_answer_passes_every_case(check, functions, capsys):
    total = int(passes(check, capsys, *functions).split()[2])
    assert total >= 3


@pytest.mark.parametrize(("check", "functions", "says"), WRONG, ids=lambda value: getattr(value, "__name__", ""))
def test_a_wrong_answer_fails_in_one_line_naming_the_case(check, functions, says):
    message = fails(check, *functions)
    assert message.startswith(f"{check.__name__}: ")
    for words in says:
        assert words in message, message


@pytest.mark.parametrize(("check", "functions"), CORRECT, ids=lambda value: getattr(value, "__name__", ""))
def test_an_unsolved_exercise_says_which_function_to_fill_in(check, functions):
    names = [function.__name__ for function in functions]
    message = fails(check, *[stub(name) for name in names])
    assert message == f"{check.__name__}: not implemented yet: fill in {names[0]} above"


def test_every_check_is_covered_by_these_tests():
    defined = {name for name in dir(checks) if name.startswith("check_")}
    assert defined == {check.__name__ for check, _ in CORRECT}
    assert defined == {check.__name__ for check, _, _ in WRONG}
    assert defined == {check.__name__ for check, _, _ in MISTAKES}
    assert defined == set(checks.FORMULAS)


@pytest.mark.parametrize(("check", "functions", "name"), MISTAKES, ids=lambda value: getattr(value, "__name__", value))
def test_a_typical_mistake_is_named_and_the_first_verdict_does_not_give_the_formula(check, functions, name):
    message = fails(check, *functions)
    assert name in message, message
    assert checks.FORMULAS[check.__name__] not in message


@pytest.mark.parametrize(("check", "functions", "name"), MISTAKES, ids=lambda value: getattr(value, "__name__", value))
def test_hints_come_in_tiers_the_mistake_then_the_fix_in_words_then_the_formula(check, functions, name):
    first, second, third = (fails(check, *functions) for _ in range(3))
    formula = checks.FORMULAS[check.__name__]
    assert name in first and "a second failed call says how to fix it" in first, first
    assert "the fix: " not in first and formula not in first, first
    fix = second.split("the fix: ", 1)[1]
    assert fix and fix not in first, second
    assert name in second and formula not in second, second
    assert third.endswith(f"so here is the whole formula: {formula}") and fix in third, third


def test_logvar_used_as_the_variance_is_not_called_a_reduction_mistake():
    message = fails(checks.check_kl, lambda mu, logvar: -0.5 * (1 + logvar - mu**2 - logvar).sum())
    assert "logvar used as the variance" in message and "sum" not in message.split("looks like", 1)[1], message


def test_the_most_common_learner_mistakes_are_each_recognised_by_name():
    for name, check in TYPICAL_MISTAKES.items():
        assert any(c is check and n == name for c, _, n in MISTAKES), name


def test_the_formula_appears_from_the_third_failed_call_on():
    wrong = [lambda mu, logvar: kl(mu, logvar) / mu.numel()]
    verdicts = [fails(checks.check_kl, *wrong) for _ in range(checks.REVEAL_AFTER)]
    formula = checks.FORMULAS["check_kl"]
    assert all(formula not in verdict for verdict in verdicts[:-1])
    assert verdicts[-1].endswith(f"failed {checks.REVEAL_AFTER} times, so here is the whole formula: {formula}")
    assert "looks like a mean instead of a sum" in verdicts[-1]


def test_an_unsolved_exercise_does_not_count_as_a_failed_try():
    for _ in range(checks.REVEAL_AFTER):
        fails(checks.check_kl, stub("kl"))
    assert checks.FORMULAS["check_kl"] not in fails(checks.check_kl, lambda mu, logvar: 2 * kl(mu, logvar))


def test_a_function_without_a_return_is_told_so():
    message = fails(checks.check_kl, lambda mu, logvar: None)
    assert message == "check_kl: case 1 of 3 (random, mu and logvar (3, 8)): <lambda> returned None: does every path " \
                      "through it end in a `return`?"


def test_a_crash_in_the_answer_becomes_one_line_naming_the_exception():
    message = fails(checks.check_kl, lambda mu, logvar: mu @ logvar)
    assert message.startswith("check_kl: case 1 of 3 (random, mu and logvar (3, 8)): <lambda> raised RuntimeError: ")
    assert "call <lambda> yourself to see the full traceback" in message


def test_jupyter_shows_the_verdict_without_a_traceback():
    with pytest.raises(CheckFailed) as failure:
        checks.check_kl(stub("kl"))
    assert failure.value._render_traceback_() == ["CheckFailed: check_kl: not implemented yet: fill in kl above"]
    assert isinstance(failure.value, AssertionError)  # a plain assert failure to pytest and to nbgrader


def test_checks_leave_the_notebooks_random_state_alone(capsys):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.check_spade_parameter_count(spade_parameter_count)
    checks.check_hinge_loss(hinge_d, hinge_g)
    assert torch.equal(torch.rand(3), expected)


def test_a_check_does_not_depend_on_the_notebooks_random_state(capsys):
    verdicts = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        verdicts.append(fails(checks.check_kl, lambda mu, logvar: kl(mu, logvar) * 1.01))
    assert verdicts[0] == verdicts[1]


"""spade_lesson.checks: a correct answer passes every case; a wrong one fails in one line naming case, values, hint."""

from __future__ import annotations

from collections import deque
from typing import Any, Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from spade_lesson import checks
from spade_lesson.checks import CheckFailed
from spade_lesson.metrics import class_iou
from spade_lesson.norms import batch_norm, group_norm


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
    (checks.check_clade_forward, [clade_forward]),
    (checks.check_spade_branch_macs, [spade_branch_macs]),
]

WRONG = [  # (check, functions, what the verdict must say)
    (checks.check_batch_norm_train,
     [lambda x, weight, bias, eps=1e-5: (batch_norm_train(x, weight, bias, eps)[0], x.mean(dim=(0, 2, 3)),
                                         x.var(dim=(0, 2, 3)))],
     ["case 1 of 4 (x (6, 3, 4, 5), eps=0.001): var at index (0,): expected", "BIASED"]),
    (checks.check_batch_norm_train, [lambda x, weight, bias, eps=1e-5: batch_norm_train(x, weight, bias, eps)[0]],
     ["case 1 of 4", "should return 3 values, got Tensor of shape (6, 3, 4, 5)"]),
    (checks.check_update_running,
     [lambda rm, rv, t, mean, var, m, momentum: update_running(rm, rv, t, mean, var, m, momentum or 0.1)],
     ["case 3 of 3 (momentum=None, 3 batches): running_mean after batch 1", "1 / num_batches_tracked"]),
    (checks.check_update_running,
     [lambda rm, rv, t, mean, var, m, momentum: update_running(rm, rv, t, mean, var * (m - 1) / m, m, momentum)],
     ["case 1 of 3 (momentum=0.1, 3 batches): running_var after batch 1", "UNBIASED"]),
    (checks.check_group_norm, [lambda x, num_groups, eps=1e-5: F.instance_norm(x, eps=eps)],
     ["case 1 of 5 (x (3, 6, 4, 5), num_groups=1): output at index (0, 0, 0, 0): expected"]),
    (checks.check_uniform_map_response, [lambda weight, bias, class_id: weight[:, class_id].sum(dim=(1, 2))],
     ["case 1 of 3 (conv 9 -> 16 channels, kernel 3x3): class 0 at index (0,)", "add the bias"]),
    (checks.check_ridge_probe, [lambda x_train, y_train, x_test, num_classes, ridge: torch.zeros(len(x_test))],
     ["case 1 of 3 (4 features, 3 classes, ridge=0.001, centres spread 2.0): predicted class at index"]),
    (checks.check_ridge_probe,
     [lambda x_train, y_train, x_test, num_classes, ridge: ridge_probe(x_train, y_train, x_test, num_classes, 0.0)],
     ["case 2 of 3 (8 features, 5 classes, ridge=1.0, centres spread 0.3): predicted class"]),
    (checks.check_spade_forward,
     [lambda x, segmap, shared, gamma, beta: spade_forward(x, segmap, shared, lambda e: gamma(e) - 1, beta)],
     ["case 1 of 3 (x (4, 6, 32, 32), segmap (4, 4, 64, 64)): output at index (0, 0, 0, 0): expected"]),
    (checks.check_spade_forward, [lambda x, segmap, shared, gamma, beta: x * (1 + gamma(shared(segmap)))],
     ["case 1 of 3", "raised RuntimeError", "(call <lambda> yourself to see the full traceback)"]),
    (checks.check_split_params, [lambda num_features, params: [(b, w) for w, b in split_params(num_features, params)]],
     ["case 1 of 3 (num_features=[3, 5, 2]): layer 0 weight at index (0, 0, 0, 0): expected"]),
    (checks.check_split_params, [lambda num_features, params: split_params(num_features, params)[:1]],
     ["case 1 of 3", "expected a list of 3 (weight, bias) pairs, got list"]),
    (checks.check_spade_parameter_count, [lambda norm_nc, label_nc, hidden, kernel_size:
                                          (label_nc + 2 * norm_nc) * hidden * kernel_size**2],
     ["case 1 of 4 (norm_nc=64, label_nc=9, hidden=128, kernel_size=3): parameters: expected 158080, got 157824"]),
    (checks.check_start_size, [lambda crop_size, aspect_ratio, mode: start_size(crop_size, aspect_ratio, mode)[::-1]],
     ["case 2 of 5 (crop_size=512, aspect_ratio=2.0, 'normal'): (height, width): expected (8, 16), got (16, 8)"]),
    (checks.check_patch_grid_size, [lambda size, n_layers_D: size // 2 ** (n_layers_D - 1)],
     ["case 1 of 4 (size=128, n_layers_D=4): logit grid side: expected 19, got 16"]),
    (checks.check_hinge_loss, [lambda real, fake: F.relu(1 - real).sum() + F.relu(1 + fake).sum(), hinge_g],
     ["case 1 of 3 (logits near the margins, shape (4, 1, 9, 9)): hinge_d: expected", "mean(relu(1 - real_logits))"]),
    (checks.check_hinge_loss, [hinge_d, lambda fake: fake.mean()], ["case 1 of 3", "hinge_g: expected"]),
    (checks.check_kl, [lambda mu, logvar: kl(mu, logvar) / mu.numel()],
     ["case 1 of 3 (random, mu and logvar (3, 8)): KL: expected"]),
    (checks.check_miou_from_confusion, [lambda conf: float(conf.diagonal().sum() / conf.sum())],
     ["case 1 of 4 (two classes, conf [[3, 1], [0, 4]]): mIoU: expected 0.775, got 0.875"]),
    (checks.check_miou_from_confusion, [lambda conf: float(class_iou(conf).nan_to_num().mean())],
     ["case 3 of 4 (a class absent from target and prediction", "whose union is not empty"]),
    (checks.check_frechet_distance, [lambda mu1, s1, mu2, s2: my_frechet_distance(mu1, s1, mu2, s2) - 3.0],
     ["case 1 of 5 (diagonal covariances, dim 3): distance: expected 14, got 11"]),
    (checks.check_frechet_distance,
     [lambda mu1, s1, mu2, s2: float((mu1 - mu2).square().sum() + (s1.diagonal().sqrt() - s2.diagonal().sqrt())
                                     .square().sum())],
     ["case 3 of 5 (random covariances that do not commute, dim 2): distance: expected"]),
    (checks.check_flood_fill, [eight_connected_flood_fill], ["case 1 of 22", "filled map at index"]),
    (checks.check_flood_fill, [in_place_flood_fill], ["case 1 of 22", "the map passed in", "label.copy()"]),
    (checks.check_flood_fill, [recursive_flood_fill],
     ["case 22 of 22 (a 300 x 300 map of one class", "raised RecursionError"]),
    (checks.check_brush_mask, [lambda height, width, x, y, size: brush_mask(height, width, x - 0.5, y - 0.5, size)],
     ["case 1 of 5 (12 x 16 map, x=5.2, y=7.9, size=1): mask at index"]),
    (checks.check_brush_mask, [lambda height, width, x, y, size: brush_mask(height, width, x, y, size).tolist()],
     ["case 1 of 5", "mask: expected an array of shape (12, 16), got list"]),
    (checks.check_interpolate_styles,
     [lambda z_a, z_b, steps: torch.lerp(z_a, z_b, torch.arange(steps)[:, None] / steps)],
     ["case 1 of 3 (z_dim=8, steps=5): codes at index (1, 0): expected"]),
    (checks.check_interpolate_styles, [lambda z_a, z_b, steps: interpolate_styles(z_a, z_b, steps)[None]],
     ["case 1 of 3", "codes: expected shape (5, 8), got (1, 5, 8)"]),
    (checks.check_clade_forward,
     [lambda x, segmap, gamma, beta: clade_forward(x, segmap, gamma - 1, beta)],
     ["case 1 of 3 (x (4, 6, 16, 16), segmap (4, 4, 16, 16)): the scale is 1 + gamma"]),
    (checks.check_clade_forward,
     [lambda x, segmap, gamma, beta: clade_forward(x, F.interpolate(segmap, size=x.shape[2:], mode="bilinear"),
                                                   gamma, beta)],
     ["case 2 of 3", "bilinear mixes classes"]),
    (checks.check_clade_forward, [gathered_clade_forward],
     ["case 3 of 3", "with don't-care pixels): output at index", "an all-zero vector, no class, gives a zero row"]),
    (checks.check_spade_branch_macs,
     [lambda c, l, h, k, height, width: spade_branch_macs(c, l, h, k, height, width) - height * width * c],
     ["case 1 of 4 (norm_nc=16, label_nc=9, hidden=32, kernel_size=3, 8 x 8): expected 756736, got 755712",
      "one multiply-add per output value"]),
    (checks.check_spade_branch_macs,
     [lambda c, l, h, k, height, width: height * width * (l * h + 2 * h * c + c)],
     ["case 1 of 4", "C_in * k * k products"]),
]


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


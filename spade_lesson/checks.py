"""Exercise checks: run a student's function against a trusted reference and say in one line what is wrong.

Each `check_<name>(function)` prints `check_<name>: all N cases pass`, or raises `CheckFailed` naming the first case
that failed, the value expected and the value got (rounded), and a diagnosis: the check also computes the typical
wrong answers of the exercise (a missing `1 +`, a bilinear resize, the wrong normalization, a mean for a sum, swapped
signs...) and, when the answer is one of them, names it; otherwise it gives a hint that points at the step to look
at. The complete formula is shown only from the REVEAL_AFTER-th failed call of the same check on. A function that
still raises NotImplementedError (an unsolved nbgrader exercise) gets "not implemented yet: fill in <name> above".
In Jupyter a CheckFailed shows as that one line, without a traceback, and nbgrader's autograder counts the cell as
failed.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any, Callable, NamedTuple, NoReturn, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.baselines import count_parameters
from spade_lesson.data.semantic import one_hot
from spade_lesson.discriminator import NLayerDiscriminator
from spade_lesson.fid import frechet_distance, sqrtm_psd
from spade_lesson.generator import latent_size
from spade_lesson.labelmap import LabelMap
from spade_lesson.losses import discriminator_loss, generator_loss, kl_divergence
from spade_lesson.metrics import class_iou, confusion_matrix, miou, pixel_accuracy
from spade_lesson.probe import RIDGE, fit_probe
from spade_lesson.shared_predictor import SPADE2d, assign_spade_params
from spade_lesson.spade import SPADE

DIGITS = 4  # significant digits of the numbers a failed check prints
REVEAL_AFTER = 3  # from this failed call of a check on, its verdict ends with the complete formula

FORMULAS = {
    "check_batch_norm_train": "mean and biased variance per channel over dims (0, 2, 3); out = weight * (x - mean) / "
                              "sqrt(var + eps) + bias, the (C,) tensors reshaped to (1, C, 1, 1)",
    "check_update_running": "new = (1 - factor) * running + factor * batch value, factor = momentum (or "
                            "1 / num_batches_tracked when momentum is None); the variance stored is var * m / (m - 1)",
    "check_group_norm": "reshape x to (N, G, C // G * H * W), subtract the mean and divide by sqrt(biased variance + "
                        "eps) over the last dim, reshape back to (N, C, H, W)",
    "check_uniform_map_response": "weight[:, class_id].sum(dim=(1, 2)) + bias",
    "check_ridge_probe": "mean = x_train.mean(0); solve ((X - mean)^T (X - mean) + ridge * P * I) W = (X - mean)^T "
                         "(Y - prior), Y one-hot, prior = Y.mean(0), P = len(x_train); predict "
                         "argmax((x_test - mean) W + prior)",
    "check_spade_forward": "normalized = batch norm of x (no affine); segmap = F.interpolate(segmap, size=x.shape[2:], "
                           "mode='nearest'); embedding = mlp_shared(segmap); out = normalized * (1 + "
                           "mlp_gamma(embedding)) + mlp_beta(embedding)",
    "check_split_params": "walk the layers in order; layer l takes the next 2 * C_l channels of params (dim 1): the "
                          "first C_l are its weight, the next C_l its bias",
    "check_spade_parameter_count": "(label_nc * k * k + 1) * hidden + 2 * (hidden * k * k + 1) * norm_nc",
    "check_start_size": "width = crop_size // 2**d with d = 5 ('normal'), 6 ('more'), 7 ('most'); height = "
                        "round(width / aspect_ratio); return (height, width)",
    "check_patch_grid_size": "each conv (kernel 4, padding 2) maps n to n // stride + 1: apply n // 2 + 1 for the "
                             "first n_layers_D - 1 convs, then n + 1 twice",
    "check_hinge_loss": "hinge_d = mean(relu(1 - real_logits)) + mean(relu(1 + fake_logits)); "
                        "hinge_g = -mean(fake_logits)",
    "check_kl": "-0.5 * sum(1 + logvar - mu**2 - exp(logvar)), summed over every element",
    "check_miou_from_confusion": "IoU_c = TP_c / (row sum + column sum - TP_c); the mean over the classes whose union "
                                 "is not 0",
    "check_frechet_distance": "|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 * sum(sqrt(eigvalsh(root1 @ sigma2 @ "
                              "root1))), root1 = sqrtm_psd(sigma1)",
    "check_flood_fill": "copy the map; if the clicked id equals class_id return the copy; else keep a stack of pixels "
                        "to visit, starting at (row y, column x), and recolour each up/down/left/right neighbour that "
                        "holds the clicked id, pushing it on the stack",
    "check_brush_mask": "centre = (floor(x) + 0.5, floor(y) + 0.5); keep the pixels whose centre (column + 0.5, row + "
                        "0.5) lies within size / 2 of it (<=)",
    "check_interpolate_styles": "t = torch.linspace(0, 1, steps)[:, None]; return (1 - t) * z_a + t * z_b",
}

_failed_calls: Counter[str] = Counter()  # failed calls per check in this session: the formula shows from the 3rd on


class CheckFailed(AssertionError):
    """A check's verdict on a wrong or unfinished answer: one line, shown in Jupyter without a traceback."""

    def _render_traceback_(self) -> list[str]:
        """What IPython prints in place of a traceback: the verdict alone."""
        return [f"{type(self).__name__}: {self}"]


class Mistake(NamedTuple):
    """A typical wrong answer: its name, what to look at, and the value it gives on the case being checked."""

    name: str
    advice: str
    value: Any


def _number(value: Any) -> str:
    """A number rounded to DIGITS significant digits (ints and booleans as they are)."""
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return str(value)
    return f"{float(value):.{DIGITS}g}"


def _brief(value: Any) -> str:
    """A short description of any value a student's function may return."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return f"{type(value).__name__} of shape {tuple(value.shape)}"
    text = repr(value)
    return text if len(text) <= 60 else f"{type(value).__name__} {text[:57]}..."


def _first_line(error: BaseException) -> str:
    """The first line of an exception's message."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""


def _as_array(value: Any) -> np.ndarray | None:
    """value as a float64 array (tensors, arrays, numbers, tuples), or None when it is not numeric."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _matches(got: Any, value: Any, atol: float, rtol: float) -> bool:
    """True when got has value's shape and its numbers to atol + rtol * |value|."""
    got, value = _as_array(got), _as_array(value)
    if got is None or value is None or got.shape != value.shape:
        return False
    return bool(np.allclose(got, value, rtol=rtol, atol=atol, equal_nan=True))


class Cases:
    """The cases of one check, run in order; the first miss raises CheckFailed with what was expected and why."""

    def __init__(self, check: str, total: int) -> None:
        self.check = check
        self.total = total
        self.number = 0
        self.description = ""

    def case(self, description: str) -> None:
        """Start the next case, described by its inputs in a few words."""
        self.number += 1
        self.description = description

    def fail(self, message: str) -> NoReturn:
        """Raise the one-line verdict for the current case (with the formula from the REVEAL_AFTER-th failed call)."""
        _failed_calls[self.check] += 1
        tries = _failed_calls[self.check]
        reveal = f" | failed {tries} times, so here is the whole formula: {FORMULAS[self.check]}" \
            if tries >= REVEAL_AFTER else ""
        raise CheckFailed(f"{self.check}: case {self.number} of {self.total} ({self.description}): {message}{reveal}")

    def call(self, function: Callable[..., Any], *args: Any, returns: int = 1,
             advice: dict[type[BaseException], str] | None = None, **kwargs: Any) -> Any:
        """function(*args, **kwargs), turning its errors into verdicts (advice: extra words for some exception types);
        returns > 1 asks for a tuple of that length."""
        name = getattr(function, "__name__", "your function")
        try:
            result = function(*args, **kwargs)
        except NotImplementedError:
            raise CheckFailed(f"{self.check}: not implemented yet: fill in {name} above") from None
        except Exception as error:  # any bug in the student's code becomes one line, not a traceback
            extra = next((f"; {words}" for kind, words in (advice or {}).items() if isinstance(error, kind)), "")
            self.fail(f"{name} raised {type(error).__name__}: {_first_line(error)} "
                      f"(call {name} yourself to see the full traceback){extra}")
        if result is None:
            self.fail(f"{name} returned None: does every path through it end in a `return`?")
        if returns > 1 and (not isinstance(result, (tuple, list)) or len(result) != returns):
            self.fail(f"{name} should return {returns} values, got {_brief(result)}")
        return result

    def _diagnosis(self, got: Any, hint: str, mistakes: Sequence[Mistake], atol: float, rtol: float) -> str:
        """The named mistakes that got equals, if any (the first with its advice); else the hint."""
        found = [mistake for mistake in mistakes if _matches(got, mistake.value, atol=atol, rtol=rtol)]
        if not found:
            return hint
        also = f" (on this case, {' or '.join(m.name for m in found[1:])} gives the same numbers)" if found[1:] else ""
        return f"looks like {found[0].name}: {found[0].advice}{also}"

    def close(self, what: str, got: Any, expected: torch.Tensor | float, hint: str,
              mistakes: Sequence[Mistake] = (), atol: float = 1e-6, rtol: float = 1e-5) -> None:
        """Fail unless got has the shape of expected and its values to atol + rtol * |expected|."""
        expected = torch.as_tensor(expected, dtype=torch.float64).detach().cpu()
        if not isinstance(got, (torch.Tensor, np.ndarray, float, int)) or isinstance(got, bool):
            self.fail(f"{what}: expected a tensor of shape {tuple(expected.shape)}, got {_brief(got)}")
        diagnosis = self._diagnosis(got, hint, mistakes, atol, rtol)
        got = torch.as_tensor(got).detach().cpu().to(torch.float64)
        if got.shape != expected.shape:
            self.fail(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}; {diagnosis}")
        wrong = ~torch.isclose(got, expected, rtol=rtol, atol=atol)
        if wrong.any():
            index = tuple(int(i) for i in wrong.nonzero()[0])
            where = f" at index {index}" if index else ""
            self.fail(f"{what}{where}: expected {_number(expected[index])}, got {_number(got[index])}; {diagnosis}")

    def same(self, what: str, got: Any, expected: np.ndarray | torch.Tensor, hint: str,
             mistakes: Sequence[Mistake] = ()) -> None:
        """Fail unless got is an array or tensor with exactly expected's shape and values."""
        expected = np.asarray(expected.cpu() if isinstance(expected, torch.Tensor) else expected)
        if not isinstance(got, (torch.Tensor, np.ndarray)):
            self.fail(f"{what}: expected an array of shape {expected.shape}, got {_brief(got)}")
        diagnosis = self._diagnosis(got, hint, mistakes, atol=0.0, rtol=0.0)
        got = np.asarray(got.detach().cpu() if isinstance(got, torch.Tensor) else got)
        if got.shape != expected.shape:
            self.fail(f"{what}: expected shape {expected.shape}, got {got.shape}; {diagnosis}")
        wrong = got != expected
        if wrong.any():
            index = tuple(int(i) for i in np.argwhere(wrong)[0])
            self.fail(f"{what} at index {index}: expected {_number(expected[index])}, got {_number(got[index])}; "
                      f"{diagnosis}")

    def equal(self, what: str, got: Any, expected: Any, hint: str, mistakes: Sequence[Mistake] = ()) -> None:
        """Fail unless got == expected (plain Python values: ints, tuples)."""
        try:
            different = bool(got != expected)
        except (RuntimeError, ValueError, TypeError):  # e.g. a tensor of several numbers has no single truth value
            different = True
        if different:
            diagnosis = self._diagnosis(got, hint, mistakes, atol=0.0, rtol=0.0)
            self.fail(f"{what}: expected {expected!r}, got {_brief(got)}; {diagnosis}")

    def passed(self) -> None:
        """Print the success line."""
        print(f"{self.check}: all {self.total} cases pass")


def _isolated(check: Callable[..., None]) -> Callable[..., None]:
    """Run a check with its own seeded random state, so the notebook's random numbers stay as they were."""

    @functools.wraps(check)
    def run(*args: Any, **kwargs: Any) -> None:
        """The check, between a fork and a restore of torch's CPU random state."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            check(*args, **kwargs)

    return run


def _randn(*shape: int) -> torch.Tensor:
    """Standard normal float64 numbers of the given shape."""
    return torch.randn(*shape, dtype=torch.float64)


def _channels(t: torch.Tensor) -> torch.Tensor:
    """A (C,) tensor reshaped to broadcast over (N, C, H, W)."""
    return t[None, :, None, None]


# ---- 01 BatchNorm from scratch ---------------------------------------------------------------------------------

PER_SAMPLE = "per-sample statistics (instance norm's, not batch norm's)"


@_isolated
def check_batch_norm_train(batch_norm_train: Callable[..., Any]) -> None:
    """Exercise 01.1: batch_norm_train(x, weight, bias, eps) -> (out, mean, var) against F.batch_norm."""
    settings = [((6, 3, 4, 5), 1e-3), ((2, 4, 3, 3), 1e-5), ((8, 1, 2, 2), 0.1), ((1, 2, 5, 7), 1e-5)]
    cases = Cases("check_batch_norm_train", len(settings))
    dims = (0, 2, 3)
    for shape, eps in settings:
        cases.case(f"x {shape}, eps={eps}")
        x = _randn(*shape) * 2 - 1
        weight, bias = _randn(shape[1]), _randn(shape[1])
        out, mean, var = cases.call(batch_norm_train, x.clone(), weight.clone(), bias.clone(), eps=eps, returns=3)
        cases.close("mean", mean, x.mean(dim=dims),
                    "one mean per channel: over which dimensions does a channel's statistic run in BatchNorm?",
                    [Mistake(PER_SAMPLE, "BatchNorm pools each channel over the whole batch", x.mean(dim=(2, 3))),
                     Mistake("the mean over the batch dimension only", "a channel's mean runs over every position "
                             "too", x.mean(dim=0)),
                     Mistake("one mean for the whole tensor", "there is one mean per channel", x.mean())])
        biased, unbiased = x.var(dim=dims, unbiased=False), x.var(dim=dims)
        cases.close("var", var, biased, "the variance of each channel over the same values as its mean; which "
                    "estimator does normalization use?",
                    [Mistake("the unbiased variance", "normalization divides by m = N * H * W, not m - 1", unbiased),
                     Mistake("the standard deviation instead of the variance", "return the square of the spread",
                             biased.sqrt()),
                     Mistake(PER_SAMPLE, "BatchNorm pools each channel over the whole batch",
                             x.var(dim=(2, 3), unbiased=False))])
        centred = x - _channels(x.mean(dim=dims))
        cases.close("out", out, F.batch_norm(x, None, None, weight, bias, training=True, eps=eps),
                    "normalize with the statistics you return, then scale by weight and shift by bias, per channel",
                    [Mistake("instance norm instead of batch norm", "normalize with the batch's statistics of each "
                             "channel, not each image's own", F.instance_norm(x, weight=weight, bias=bias, eps=eps)),
                     Mistake("the unbiased variance in the normalization", "divide by sqrt(biased variance + eps)",
                             centred / _channels((unbiased + eps).sqrt()) * _channels(weight) + _channels(bias)),
                     Mistake("eps outside the square root", "eps goes inside: sqrt(var + eps)",
                             centred / _channels(biased.sqrt() + eps) * _channels(weight) + _channels(bias)),
                     Mistake("a division by the variance", "divide by the standard deviation sqrt(var + eps)",
                             centred / _channels(biased + eps) * _channels(weight) + _channels(bias)),
                     Mistake("weight and bias swapped", "weight scales, bias shifts",
                             F.batch_norm(x, None, None, bias, weight, training=True, eps=eps)),
                     Mistake("the affine part left out", "scale by weight and shift by bias after normalizing",
                             F.batch_norm(x, None, None, training=True, eps=eps))])
    cases.passed()


def _blend(old: torch.Tensor, new: torch.Tensor, factor: float) -> torch.Tensor:
    """(1 - factor) * old + factor * new."""
    return (1 - factor) * old + factor * new


def _momentum_mistakes(old: torch.Tensor, new: torch.Tensor, factor: float, momentum: float | None,
                       num_batches_tracked: int) -> list[Mistake]:
    """The typical wrong updates of one running statistic (new: the value the right update blends in)."""
    found = [Mistake("momentum on the old value", "momentum is the weight of the NEW batch statistic",
                     _blend(old, new, 1 - factor))]
    if momentum is None:
        found += [Mistake("momentum=None treated as a fixed momentum", "None asks for a cumulative average, whose "
                          "weight shrinks as batches are counted", _blend(old, new, 0.1)),
                  Mistake("an off-by-one cumulative average", "num_batches_tracked already counts this batch",
                          _blend(old, new, 1 / (num_batches_tracked + 1)))]
    return found


@_isolated
def check_update_running(update_running: Callable[..., Any]) -> None:
    """Exercise 01.2: update_running(...) -> (running_mean, running_var) against nn.BatchNorm2d's buffers."""
    momenta = [0.1, 0.7, None]
    cases = Cases("check_update_running", len(momenta))
    m = 4 * 2 * 3
    for momentum in momenta:
        cases.case(f"momentum={momentum}, 3 batches")
        reference = nn.BatchNorm2d(3, momentum=momentum).double()
        running_mean, running_var = reference.running_mean.clone(), reference.running_var.clone()
        for t in range(1, 4):
            x = _randn(4, 3, 2, 3) * t + t
            reference(x)
            mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
            old_mean, old_var = running_mean.clone(), running_var.clone()
            running_mean, running_var = cases.call(update_running, old_mean.clone(), old_var.clone(), t, mean, var,
                                                   m=m, momentum=momentum, returns=2)
            factor = 1 / t if momentum is None else momentum
            hint = "a moving average: a blend of the old running value and this batch's statistic"
            cases.close(f"running_mean after batch {t}", running_mean, reference.running_mean, hint,
                        _momentum_mistakes(old_mean, mean, factor, momentum, t))
            unbiased = var * m / (m - 1)
            cases.close(f"running_var after batch {t}", running_var, reference.running_var,
                        hint + "; which variance does nn.BatchNorm2d keep for inference?",
                        [Mistake("the biased variance stored", "the running variance is the UNBIASED one: "
                                 "var * m / (m - 1)", _blend(old_var, var, factor))]
                        + _momentum_mistakes(old_var, unbiased, factor, momentum, t))
    cases.passed()


@_isolated
def check_group_norm(my_group_norm: Callable[..., Any]) -> None:
    """Exercise 01.3: my_group_norm(x, num_groups, eps) against F.group_norm."""
    settings = [((3, 6, 4, 5), 1), ((3, 6, 4, 5), 2), ((3, 6, 4, 5), 3), ((3, 6, 4, 5), 6), ((2, 8, 3, 1), 4)]
    cases = Cases("check_group_norm", len(settings))
    eps = 1e-3
    for shape, groups in settings:
        cases.case(f"x {shape}, num_groups={groups}")
        x = _randn(*shape) * 3 + 1
        n, c = shape[:2]
        grouped = x.reshape(n, groups, -1)
        unbiased = ((grouped - grouped.mean(dim=2, keepdim=True)) / (grouped.var(dim=2, keepdim=True) + eps).sqrt())
        strided = x.reshape(n, c // groups, groups, *shape[2:]).transpose(1, 2)  # group g: channels g, g + G, ...
        out = cases.call(my_group_norm, x.clone(), groups, eps=eps)
        cases.close("output", out, F.group_norm(x, groups, eps=eps),
                    "each group is C // num_groups neighbouring channels of one sample, with all their positions",
                    [Mistake("instance norm (one group per channel)", "the channels of a group share their statistics; "
                             "only num_groups == C gives one channel per group", F.instance_norm(x, eps=eps)),
                     Mistake("layer norm (one group for all channels)", "split the channels into num_groups groups",
                             F.layer_norm(x, shape[1:], eps=eps)),
                     Mistake("the unbiased variance", "normalization divides by the number of values m, not m - 1",
                             unbiased.reshape(shape)),
                     Mistake("channels grouped by stride", "a group holds neighbouring channels: reshape (N, C, ...) "
                             "straight to (N, G, ...)",
                             F.group_norm(strided.reshape(shape), groups, eps=eps).reshape(strided.shape)
                             .transpose(1, 2).reshape(shape))])
    cases.passed()


# ---- 02 The wash-out ---------------------------------------------------------------------------------------------


@_isolated
def check_uniform_map_response(uniform_map_response: Callable[..., Any]) -> None:
    """Exercise 02.1: uniform_map_response(weight, bias, class_id) against a reflect-padded conv of a uniform map."""
    settings = [(9, 16, 3), (4, 5, 1), (3, 2, 5)]
    cases = Cases("check_uniform_map_response", len(settings))
    for label_nc, out_channels, kernel_size in settings:
        cases.case(f"conv {label_nc} -> {out_channels} channels, kernel {kernel_size}x{kernel_size}")
        conv = nn.Conv2d(label_nc, out_channels, kernel_size, padding=kernel_size // 2, padding_mode="reflect")
        conv = conv.double()
        uniform = torch.arange(label_nc).reshape(label_nc, 1, 1).expand(label_nc, 8, 8)  # map k: all class k
        with torch.no_grad():
            response = conv(one_hot(uniform, label_nc).double())  # (label_nc, out_channels, 8, 8), each uniform
        weight, bias = conv.weight.detach(), conv.bias.detach()
        centre = kernel_size // 2
        for class_id in range(label_nc):
            got = cases.call(uniform_map_response, weight.clone(), bias.clone(), class_id)
            taps = weight[:, class_id]  # (out_channels, k, k): the weights that meet channel class_id
            cases.close(f"class {class_id}", got, response[class_id, :, 4, 4],
                        "in a uniform map only channel class_id holds ones: which weights meet a 1 under the kernel, "
                        "and what does the conv add to their products?",
                        [Mistake("the bias left out", "the conv adds its bias to every output", taps.sum(dim=(1, 2))),
                         Mistake("a mean instead of a sum over the kernel", "every tap adds its weight times 1",
                                 taps.mean(dim=(1, 2)) + bias),
                         Mistake("the centre tap only", "on a uniform map every tap of the kernel sees a 1",
                                 taps[:, centre, centre] + bias),
                         Mistake("a sum over every input channel", "only channel class_id holds ones; the others "
                                 "are 0", weight.sum(dim=(1, 2, 3)) + bias)])
    cases.passed()


def _ridge_reference(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, num_classes: int,
                     ridge: float) -> torch.Tensor:
    """The ridge probe's predictions, solved as an augmented least-squares problem (independent of the notebook's)."""
    mean = x_train.mean(dim=0)
    centred = x_train - mean
    targets = F.one_hot(y_train, num_classes).double()
    prior = targets.mean(dim=0)
    features = centred.shape[1]
    # min |X W - (Y - prior)|^2 + lambda P |W|^2 = min |[X; sqrt(lambda P) I] W - [Y - prior; 0]|^2
    rows = torch.cat([centred, (ridge * len(centred)) ** 0.5 * torch.eye(features, dtype=torch.float64)])
    goals = torch.cat([targets - prior, torch.zeros(features, num_classes, dtype=torch.float64)])
    weight = torch.linalg.lstsq(rows, goals).solution
    return ((x_test - mean) @ weight + prior).argmax(dim=1)


def _ridge_variant(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, num_classes: int,
                   penalty: float, centre: bool = True, add_prior: bool = True) -> torch.Tensor:
    """A ridge probe's predictions from the normal equations, with the choices a wrong answer makes differently."""
    mean = x_train.mean(dim=0) if centre else torch.zeros_like(x_train[0])
    x = x_train - mean
    targets = F.one_hot(y_train, num_classes).double()
    prior = targets.mean(dim=0)
    system = x.T @ x + penalty * torch.eye(x.shape[1], dtype=torch.float64)
    weight = torch.linalg.lstsq(system, x.T @ (targets - prior)).solution
    return ((x_test - mean) @ weight + (prior if add_prior else 0)).argmax(dim=1)


@_isolated
def check_ridge_probe(ridge_probe: Callable[..., Any]) -> None:
    """Exercise 02.2: ridge_probe(x_train, y_train, x_test, num_classes, ridge) against least squares and fit_probe."""
    settings = [(4, 3, RIDGE, 2.0), (8, 5, 1.0, 0.3), (6, 4, RIDGE, 0.0)]  # features, classes, ridge, separation
    cases = Cases("check_ridge_probe", len(settings))
    for features, num_classes, ridge, separation in settings:
        cases.case(f"{features} features, {num_classes} classes, ridge={ridge}"
                   + (f", centres spread {separation}" if separation else ", constant features"))
        centres = _randn(num_classes, features) * separation
        noise = 1.0 if separation else 0.0
        y_train = torch.randint(num_classes, (240,))
        y_test = torch.randint(num_classes, (120,))
        x_train = torch.round(centres[y_train] + noise * _randn(240, features), decimals=3)
        x_test = torch.round(centres[y_test] + noise * _randn(120, features), decimals=3)
        pred = cases.call(ridge_probe, x_train.clone(), y_train.clone(), x_test.clone(), num_classes, ridge=ridge)
        expected = _ridge_reference(x_train, y_train, x_test, num_classes, ridge)
        scaled = ridge * len(x_train)
        problem = (x_train, y_train, x_test, num_classes)
        cases.same("predicted class", pred, expected,
                   "the probe centres the features, fits the centred one-hot targets with a ridge penalty, and adds "
                   "the class prior back before the argmax",
                   [Mistake("the ridge left out", "add ridge * P to the diagonal of X^T X",
                            _ridge_variant(*problem, penalty=0.0)),
                    Mistake("a ridge not multiplied by the number of samples P", "the penalty is ridge * P, so that "
                            "ridge means the same for any number of samples", _ridge_variant(*problem, penalty=ridge)),
                    Mistake("uncentred features", "subtract the training features' mean, from the test features too",
                            _ridge_variant(*problem, penalty=scaled, centre=False)),
                    Mistake("the prior not added back", "the weights fit Y - prior: add the prior to the scores",
                            _ridge_variant(*problem, penalty=scaled, add_prior=False))])
        if ridge == RIDGE:
            probe = fit_probe(x_train[:, :, None, None], y_train[:, None, None], x_test[:, :, None, None],
                              y_test[:, None, None], num_classes)
            conf = confusion_matrix(torch.as_tensor(pred).long(), y_test, num_classes)
            cases.close("pixel accuracy", pixel_accuracy(conf), probe.pixel_accuracy,
                        "your predictions should score what spade_lesson.probe.fit_probe scores")
            cases.close("mIoU", miou(conf), probe.miou,
                        "your predictions should score what spade_lesson.probe.fit_probe scores")
    cases.passed()


# ---- 03 SPADE -----------------------------------------------------------------------------------------------------


def _spade_maps(reference: SPADE, segmap: torch.Tensor, size: tuple[int, int],
                mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """gamma, beta of a SPADE layer from segmap (N, label_nc, h, w) resized to size with F.interpolate's mode."""
    embedding = reference.mlp_shared(F.interpolate(segmap, size=size, mode=mode))
    return reference.mlp_gamma(embedding), reference.mlp_beta(embedding)


@_isolated
def check_spade_forward(spade_forward: Callable[..., Any]) -> None:
    """Exercise 03.1: spade_forward(x, segmap, mlp_shared, mlp_gamma, mlp_beta) against spade_lesson.spade.SPADE."""
    settings = [(6, 4, 16, (32, 32), (64, 64)), (3, 5, 8, (16, 16), (16, 16)), (4, 3, 8, (16, 24), (8, 12))]
    cases = Cases("check_spade_forward", len(settings))
    for norm_nc, label_nc, hidden, size, map_size in settings:
        cases.case(f"x (4, {norm_nc}, {size[0]}, {size[1]}), segmap (4, {label_nc}, {map_size[0]}, {map_size[1]})")
        reference = SPADE(norm_nc, label_nc, hidden=hidden)  # batch norm without affine, in training mode
        x = torch.randn(4, norm_nc, *size) * 2 + 1
        segmap = one_hot(torch.randint(label_nc, (4, *map_size)), label_nc)
        with torch.no_grad():
            got = cases.call(spade_forward, x.clone(), segmap.clone(), reference.mlp_shared, reference.mlp_gamma,
                             reference.mlp_beta)
            expected = reference(x, segmap)
            normalized = F.batch_norm(x, None, None, training=True)
            gamma, beta = _spade_maps(reference, segmap, size, "nearest")
            bilinear = _spade_maps(reference, segmap, size, "bilinear")
            exact = _spade_maps(reference, segmap, size, "nearest-exact")
            mistakes = [
                Mistake("missing `1 +`", "gamma is learned as a change around 1: a layer whose gamma is 0 must leave "
                        "the normalized x as it is", normalized * gamma + beta),
                Mistake("a bilinear resize of the label map", "bilinear blends neighbouring classes into fractions; "
                        "SPADE resizes with the nearest neighbour so each pixel keeps one class",
                        normalized * (1 + bilinear[0]) + bilinear[1]),
                Mistake("'nearest-exact' instead of 'nearest'", "the official code and this course use "
                        "F.interpolate's mode='nearest'",
                        normalized * (1 + exact[0]) + exact[1]),
                Mistake("instance norm instead of batch norm", "this SPADE's parameter-free norm is BatchNorm: "
                        "statistics over the batch and the positions", F.instance_norm(x) * (1 + gamma) + beta),
                Mistake("no normalization", "normalize x first (no learned affine), then modulate it",
                        x * (1 + gamma) + beta),
                Mistake("gamma and beta swapped", "mlp_gamma's output scales, mlp_beta's shifts",
                        normalized * (1 + beta) + gamma),
            ]
        cases.close("output", got, expected, "compare each step with Eq. (1) above: normalize x, resize the map, "
                    "embed it, then modulate", mistakes, atol=1e-5, rtol=1e-4)
    cases.passed()


@_isolated
def check_split_params(split_params: Callable[..., Any]) -> None:
    """Exercise 03.2: split_params(num_features, params) against spade_lesson.shared_predictor.assign_spade_params."""
    settings = [[3, 5, 2], [4], [1, 1, 6]]
    cases = Cases("check_split_params", len(settings))
    for num_features in settings:
        cases.case(f"num_features={num_features}")
        layers = nn.Sequential(*[SPADE2d(c) for c in num_features])
        params = torch.randn(2, 2 * sum(num_features), 6, 6)
        assign_spade_params(layers, params)
        weights_first = list(zip(params[:, :sum(num_features)].split(num_features, dim=1),
                                 params[:, sum(num_features):].split(num_features, dim=1)))
        got = cases.call(split_params, list(num_features), params.clone())
        if not isinstance(got, (list, tuple)) or len(got) != len(num_features):
            cases.fail(f"expected a list of {len(num_features)} (weight, bias) pairs, got {_brief(got)}")
        for index, (pair, layer) in enumerate(zip(got, layers)):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                cases.fail(f"layer {index}: expected a (weight, bias) pair, got {_brief(pair)}")
            hint = "the layers take their channels from params in order, each its weight and its bias"
            for what, value, position in (("weight", layer.weight, 0), ("bias", layer.bias, 1)):
                cases.close(f"layer {index} {what}", pair[position], value, hint,
                            [Mistake("weight and bias swapped", "of a layer's 2 * C_l channels the first C_l are "
                                     "its weight", (layer.bias, layer.weight)[position]),
                             Mistake("all the weights first, then all the biases", "each layer takes its weight "
                                     "and its bias next to each other", weights_first[index][position])],
                            atol=0.0, rtol=0.0)
    cases.passed()


# ---- 04 The networks ---------------------------------------------------------------------------------------------


@_isolated
def check_spade_parameter_count(spade_parameter_count: Callable[..., Any]) -> None:
    """Exercise 04.1: spade_parameter_count(norm_nc, label_nc, hidden, kernel_size) against a built SPADE."""
    settings = [(64, 9, 128, 3), (1024, 184, 128, 3), (8, 3, 16, 5), (16, 1, 32, 1)]
    cases = Cases("check_spade_parameter_count", len(settings))
    for norm_nc, label_nc, hidden, k in settings:
        cases.case(f"norm_nc={norm_nc}, label_nc={label_nc}, hidden={hidden}, kernel_size={k}")
        with torch.device("meta"):  # shapes only: no memory, no time
            expected = count_parameters(SPADE(norm_nc, label_nc, hidden=hidden, kernel_size=k))
        shared, branch = (label_nc * k * k + 1) * hidden, (hidden * k * k + 1) * norm_nc
        got = cases.call(spade_parameter_count, norm_nc, label_nc, hidden, k)
        cases.equal("parameters", got, expected,
                    "count the three convs of SPADE (shared, gamma, beta): the weights and the biases of each",
                    [Mistake("the biases left out", "each conv has one bias per output channel",
                             (label_nc * hidden + 2 * hidden * norm_nc) * k * k),
                     Mistake("the kernel counted as k, not k * k", "a k x k kernel has k * k weights per pair of "
                             "channels", (label_nc * k + 1) * hidden + 2 * (hidden * k + 1) * norm_nc),
                     Mistake("one of mlp_gamma and mlp_beta counted", "gamma and beta have a conv each",
                             shared + branch),
                     Mistake("mlp_shared left out", "the label map goes through the shared conv first", 2 * branch),
                     Mistake("affine parameters counted in the norm", "SPADE's norm is parameter-free: gamma and beta "
                             "come from the label map", shared + 2 * branch + 2 * norm_nc)])
    cases.passed()


@_isolated
def check_start_size(start_size: Callable[..., Any]) -> None:
    """Exercise 04.2: start_size(crop_size, aspect_ratio, num_upsampling_layers) against generator.latent_size."""
    settings = [(256, 1.0, "normal"), (512, 2.0, "normal"), (512, 2.0, "more"), (1024, 1.0, "most"),
                (128, 1.0, "normal")]
    doublings = {"normal": 5, "more": 6, "most": 7}
    cases = Cases("check_start_size", len(settings))
    for crop_size, aspect_ratio, mode in settings:
        cases.case(f"crop_size={crop_size}, aspect_ratio={aspect_ratio}, {mode!r}")
        got = cases.call(start_size, crop_size, aspect_ratio, mode)
        got = tuple(got) if isinstance(got, (tuple, list)) else got
        height, width = latent_size(crop_size, aspect_ratio, mode)
        off = [(round(w / aspect_ratio), w) for w in (crop_size >> (doublings[mode] - 1),
                                                      crop_size >> (doublings[mode] + 1))]
        cases.equal("(height, width)", got, (height, width),
                    "the generator doubles its size once per upsampling layer; the aspect ratio is width / height",
                    [Mistake("height and width swapped", "return (height, width)", (width, height)),
                     Mistake("the height multiplied by the aspect ratio", "aspect_ratio = width / height",
                             (round(width * aspect_ratio), width)),
                     Mistake("one doubling too many", "'normal' doubles 5 times, 'more' 6, 'most' 7", off[1]),
                     Mistake("one doubling too few", "'normal' doubles 5 times, 'more' 6, 'most' 7", off[0])])
    cases.passed()


def _grid(size: int, n_layers_D: int, padding_plus_one: bool = True, last_two: bool = True) -> int:
    """The PatchGAN logit grid's side, computed with or without the steps a wrong answer forgets."""
    for _ in range(n_layers_D - 1):
        size = size // 2 + int(padding_plus_one)
    return size + 2 * int(last_two)


@_isolated
def check_patch_grid_size(patch_grid_size: Callable[..., Any]) -> None:
    """Exercise 04.3: patch_grid_size(size, n_layers_D) against the logits of a real NLayerDiscriminator."""
    settings = [(128, 4), (64, 4), (256, 3), (37, 2)]
    cases = Cases("check_patch_grid_size", len(settings))
    for size, n_layers_D in settings:
        cases.case(f"size={size}, n_layers_D={n_layers_D}")
        net = NLayerDiscriminator(in_channels=1, n_layers_D=n_layers_D, ndf=2)
        with torch.no_grad():
            expected = net(torch.zeros(1, 1, size, size))[-1].shape[-1]
        got = cases.call(patch_grid_size, size, n_layers_D)
        cases.equal("logit grid side", got, expected,
                    "follow the side through every conv: kernel 4, padding 2, and its stride",
                    [Mistake("a plain division by 2**(n_layers_D - 1)", "a conv with kernel 4 and padding 2 maps n "
                             "to n // stride + 1", size // 2 ** (n_layers_D - 1)),
                     Mistake("the + 1 of each stride-2 conv left out", "kernel 4 with padding 2 maps n to "
                             "n // 2 + 1", _grid(size, n_layers_D, padding_plus_one=False)),
                     Mistake("the last two convs (stride 1) left out", "each of them adds 1 to the side",
                             _grid(size, n_layers_D, last_two=False))])
    cases.passed()


# ---- 05 Training -------------------------------------------------------------------------------------------------


@_isolated
def check_hinge_loss(hinge_d: Callable[..., Any], hinge_g: Callable[..., Any]) -> None:
    """Exercise 05.1: hinge_d(real_logits, fake_logits) and hinge_g(fake_logits) against spade_lesson.losses."""
    settings = [("logits near the margins", (4, 1, 9, 9), 0.5), ("logits beyond the margins", (4, 1, 5, 5), 3.0),
                ("one logit per image", (6,), 0.0)]
    cases = Cases("check_hinge_loss", len(settings))
    for description, shape, offset in settings:
        cases.case(f"{description}, shape {shape}")
        real, fake = torch.randn(shape) + offset, torch.randn(shape) - offset
        d_fake, d_real = discriminator_loss([[fake]], [[real]], gan_mode="hinge")
        cases.close("hinge_d", cases.call(hinge_d, real.clone(), fake.clone()), d_fake + d_real,
                    "each term penalizes only the logits on the wrong side of their margin (+1 for real, -1 for "
                    "fake), averaged over the logits",
                    [Mistake("a sum instead of a mean", "the expectation is a mean over the batch and the patches",
                             F.relu(1 - real).sum() + F.relu(1 + fake).sum()),
                     Mistake("swapped signs", "real logits should rise above +1, fake ones fall below -1",
                             F.relu(1 + real).mean() + F.relu(1 - fake).mean()),
                     Mistake("the max(0, .) left out", "logits beyond their margin add nothing: clamp each term at 0",
                             (1 - real).mean() + (1 + fake).mean()),
                     Mistake("the fake term left out", "the loss has a real term and a fake term",
                             F.relu(1 - real).mean()),
                     Mistake("the real term left out", "the loss has a real term and a fake term",
                             F.relu(1 + fake).mean())],
                    atol=1e-5)
        cases.close("hinge_g", cases.call(hinge_g, fake.clone()), generator_loss([[fake]], gan_mode="hinge"),
                    "the generator wants the discriminator's logits on its fakes as high as possible",
                    [Mistake("a swapped sign", "minimizing the loss must raise the fakes' logits", fake.mean()),
                     Mistake("a hinge for the generator", "the generator's loss has no margin: it keeps pushing",
                             F.relu(1 - fake).mean()),
                     Mistake("a sum instead of a mean", "the expectation is a mean over the batch and the patches",
                             -fake.sum())],
                    atol=1e-5)
    cases.passed()


@_isolated
def check_kl(kl: Callable[..., Any]) -> None:
    """Exercise 05.2: kl(mu, logvar) against torch.distributions and spade_lesson.losses.kl_divergence."""
    settings = [("random", (3, 8), 1.0), ("N(0, I) against itself", (3, 8), 0.0), ("wide codes", (2, 256), 2.0)]
    cases = Cases("check_kl", len(settings))
    normal = torch.distributions.Normal
    for description, shape, scale in settings:
        cases.case(f"{description}, mu and logvar {shape}")
        mu, logvar = scale * _randn(*shape), scale * _randn(*shape)
        reference = torch.distributions.kl_divergence(normal(mu, (0.5 * logvar).exp()), normal(0.0, 1.0)).sum()
        terms = 1 + logvar - mu**2 - logvar.exp()
        got = cases.call(kl, mu.clone(), logvar.clone())
        cases.close("KL", got, reference, "the KL of a diagonal Gaussian to N(0, I) has a closed form, one term per "
                    "element of the code; how does the official code reduce them?",
                    [Mistake("a mean instead of a sum", "sum over the batch and the code's dimensions",
                             -0.5 * terms.mean()),
                     Mistake("a mean over the batch", "the official code sums over the batch too",
                             -0.5 * terms.sum() / shape[0]),
                     Mistake("a swapped sign", "a KL divergence is never negative", 0.5 * terms.sum()),
                     Mistake("the 1 left out", "each element's term starts with 1 + logvar",
                             -0.5 * (terms - 1).sum()),
                     Mistake("the factor -1/2 replaced by -1", "the closed form has a factor 1/2", -terms.sum()),
                     Mistake("logvar read as sigma", "logvar is log sigma^2: sigma^2 = exp(logvar)",
                             -0.5 * (1 + 2 * logvar.abs().log() - mu**2 - logvar**2).sum())])
        cases.close("KL against the package's", got, kl_divergence(mu, logvar), "sum, do not average")
    cases.passed()


# ---- 06 Evaluation ----------------------------------------------------------------------------------------------


@_isolated
def check_miou_from_confusion(miou_from_confusion: Callable[..., Any]) -> None:
    """Exercise 06.1: miou_from_confusion(conf) against spade_lesson.metrics.miou."""
    settings = [("two classes", torch.tensor([[3, 1], [0, 4]])),
                ("a class never predicted right", torch.tensor([[1, 1, 0], [0, 2, 0], [1, 0, 0]])),
                ("a class absent from target and prediction", torch.tensor([[5, 0, 0], [0, 0, 0], [2, 0, 1]])),
                ("random 6 classes", torch.randint(20, (6, 6)))]
    cases = Cases("check_miou_from_confusion", len(settings))
    for description, conf in settings:
        cases.case(f"{description}, conf {conf.tolist()}" if len(conf) <= 3 else description)
        counts = conf.double()
        tp, rows, columns = counts.diagonal(), counts.sum(dim=1), counts.sum(dim=0)
        got = cases.call(miou_from_confusion, conf.clone())
        cases.close("mIoU", got, miou(conf),
                    "per class: the pixels both maps give it over the pixels either map gives it; then which classes "
                    "enter the mean?",
                    [Mistake("pixel accuracy, not mIoU", "score each class by its intersection over its union",
                             tp.sum() / counts.sum()),
                     Mistake("absent classes counted as IoU 0", "a class in neither map has no IoU: leave it out of "
                             "the mean", class_iou(conf).nan_to_num().mean()),
                     Mistake("absent classes left as NaN", "a class in neither map has union 0: average over the "
                             "others", class_iou(conf).mean()),
                     Mistake("TP counted twice in the union", "union = row sum + column sum - TP",
                             (tp / (rows + columns))[rows + columns > 0].mean()),
                     Mistake("per-class recall, TP / (TP + FN)", "the union also holds the false positives",
                             (tp / rows)[rows > 0].mean()),
                     Mistake("per-class precision, TP / (TP + FP)", "the union also holds the false negatives",
                             (tp / columns)[columns > 0].mean())],
                    atol=1e-9)
    cases.passed()


@_isolated
def check_frechet_distance(my_frechet_distance: Callable[..., Any]) -> None:
    """Exercise 06.2: my_frechet_distance(mu1, sigma1, mu2, sigma2) against the diagonal closed form and fid's."""
    cases = Cases("check_frechet_distance", 5)

    def mistakes(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> list[Mistake]:
        """The typical wrong distances for these Gaussians."""
        mu1, sigma1, mu2, sigma2 = (t.double() for t in (mu1, sigma1, mu2, sigma2))
        root1 = sqrtm_psd(sigma1)
        cross = torch.linalg.eigvalsh(root1 @ sigma2 @ root1).clamp(min=0).sqrt().sum()
        means, traces = (mu1 - mu2).square().sum(), sigma1.trace() + sigma2.trace()
        return [Mistake("the factor 2 of the cross term left out", "the cross term is 2 tr((sigma1 sigma2)^1/2)",
                        means + traces - cross),
                Mistake("the means' term left out", "the distance starts with |mu1 - mu2|^2", traces - 2 * cross),
                Mistake("the means' distance not squared", "|mu1 - mu2|^2, the squared distance",
                        means.sqrt() + traces - 2 * cross),
                Mistake("the square roots taken separately", "tr(sigma1^1/2 sigma2^1/2) equals tr((sigma1 "
                        "sigma2)^1/2) only when the covariances commute",
                        means + traces - 2 * (root1 @ sqrtm_psd(sigma2)).trace()),
                Mistake("eigvalsh of the non-symmetric sigma1 @ sigma2", "eigvalsh reads one triangle of a symmetric "
                        "matrix; make the product symmetric first",
                        means + traces - 2 * torch.linalg.eigvalsh(sigma1 @ sigma2).clamp(min=0).sqrt().sum())]

    hint = "|mu1 - mu2|^2 plus the covariance term; for it the product of two covariances needs a symmetric form"
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 4.0, 1.0])
    mu1, mu2 = torch.zeros(3), torch.tensor([1.0, 2.0, 2.0])
    cases.case("diagonal covariances, dim 3")
    closed_form = (mu1 - mu2).square().sum() + (a.sqrt() - b.sqrt()).square().sum()  # commuting covariances
    cases.close("distance", cases.call(my_frechet_distance, mu1, torch.diag(a), mu2, torch.diag(b)), closed_form,
                hint, mistakes(mu1, torch.diag(a), mu2, torch.diag(b)), atol=1e-6)
    cases.case("a Gaussian against itself, dim 4")
    root, mean = _randn(4, 4), _randn(4)
    got = cases.call(my_frechet_distance, mean, root @ root.T, mean.clone(), root @ root.T)
    cases.close("distance", got, 0.0, "the distance of a Gaussian to itself is 0",
                mistakes(mean, root @ root.T, mean, root @ root.T), atol=1e-6)
    for dim in (2, 5, 16):
        cases.case(f"random covariances that do not commute, dim {dim}")
        x, y = _randn(dim, dim), _randn(dim, dim)
        m1, m2 = _randn(dim), _randn(dim)
        expected = frechet_distance(m1, x @ x.T, m2, y @ y.T)
        cases.close("distance", cases.call(my_frechet_distance, m1, x @ x.T, m2, y @ y.T), expected, hint,
                    mistakes(m1, x @ x.T, m2, y @ y.T), atol=1e-6, rtol=1e-6)
    cases.passed()


# ---- 07 Interactive GauGAN ---------------------------------------------------------------------------------------


def _fill_region(label: np.ndarray, row: int, column: int, class_id: int, diagonal: bool) -> np.ndarray:
    """A copy of label whose region around (row, column) holds class_id; diagonal: 8-connected instead of 4."""
    out = label.copy()
    target = out[row, column]
    if target == class_id:
        return out
    steps = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr or dc) and (diagonal or not (dr and dc))]
    out[row, column] = class_id
    todo = [(row, column)]
    while todo:
        r, c = todo.pop()
        for nr, nc in ((r + dr, c + dc) for dr, dc in steps):
            if 0 <= nr < out.shape[0] and 0 <= nc < out.shape[1] and out[nr, nc] == target:
                out[nr, nc] = class_id
                todo.append((nr, nc))
    return out


@_isolated
def check_flood_fill(flood_fill: Callable[..., Any]) -> None:
    """Exercise 07.1: flood_fill(label, x, y, class_id) against LabelMap.fill, on random maps and a huge region."""
    trials = 20
    cases = Cases("check_flood_fill", trials + 2)
    rng = np.random.default_rng(0)
    advice = {RecursionError: "Python allows about 1000 nested calls; keep a list of pixels still to visit",
              IndexError: "looks like x and y swapped? x is the column, y the row: label[y, x]"}
    hint = "the region is what up/down/left/right steps reach through pixels of the clicked id"
    for trial in range(trials):
        noisy = (rng.random((24, 32)) < 0.45).astype(np.uint8)  # blobs of 0 and 1 with winding borders
        x, y = int(rng.integers(32)), int(rng.integers(24))
        cases.case(f"random 24 x 32 map {trial}, fill at x={x}, y={y}")
        reference = LabelMap.from_array(noisy, num_classes=3)
        reference.fill(x, y, class_id=2)
        label = noisy.copy()
        mistakes = [Mistake("an 8-connected fill", "diagonal neighbours are not connected: step up, down, left and "
                            "right only", _fill_region(noisy, y, x, 2, diagonal=True)),
                    Mistake("every pixel of the clicked id recoloured", "only the connected region around the click "
                            "changes", np.where(noisy == noisy[y, x], 2, noisy).astype(noisy.dtype))]
        if x < 24 and y < 32:
            mistakes.append(Mistake("x and y swapped", "x is the column, y the row: label[y, x]",
                                    _fill_region(noisy, x, y, 2, diagonal=False)))
        got = cases.call(flood_fill, label, x, y, 2, advice=advice)
        cases.same("filled map", got, reference.to_numpy(), hint, mistakes)
        cases.same("the map passed in", label, noisy, "leave the input as it was: fill a copy, label.copy()")
    cases.case("a map filled with its own class")
    got = cases.call(flood_fill, np.ones((5, 6), dtype=np.uint8), 2, 3, 1, advice=advice)
    cases.same("filled map", got, np.ones((5, 6), dtype=np.uint8), "filling with the id already there changes nothing")
    cases.case("a 300 x 300 map of one class: 90000 pixels, far beyond Python's recursion limit")
    got = cases.call(flood_fill, np.zeros((300, 300), dtype=np.uint8), 0, 0, 1, advice=advice)
    cases.same("filled map", got, np.ones((300, 300), dtype=np.uint8), hint)
    cases.passed()


@_isolated
def check_brush_mask(brush_mask: Callable[..., Any]) -> None:
    """Exercise 07.2: brush_mask(height, width, x, y, size) against LabelMap.stroke at one point."""
    settings = [(5.2, 7.9, 1), (0, 0, 4), (10.5, 3.1, 5), (15.9, 11.0, 7.5), (8, 8, 2)]
    cases = Cases("check_brush_mask", len(settings))
    rows, columns = np.indices((12, 16)) + 0.5  # pixel centres
    for x, y, size in settings:
        cases.case(f"12 x 16 map, x={x}, y={y}, size={size}")
        reference = LabelMap(12, 16, num_classes=2)
        reference.stroke([(x, y)], class_id=1, size=size)
        cx, cy = np.floor(x) + 0.5, np.floor(y) + 0.5
        distance = np.hypot(columns - cx, rows - cy)
        got = cases.call(brush_mask, 12, 16, x, y, size)
        cases.same("mask", got, reference.to_numpy() == 1,
                   "the brush paints the pixels whose centres lie within its radius of the snapped click",
                   [Mistake("the click not snapped to its pixel's centre", "a brush of size 1 must paint exactly the "
                            "pixel clicked: centre = (floor(x) + 0.5, floor(y) + 0.5)",
                            np.hypot(columns - x, rows - y) <= size / 2),
                    Mistake("the diameter used as the radius", "size is the brush's diameter", distance <= size),
                    Mistake("a strict <", "pixels exactly on the brush's edge are painted too", distance < size / 2),
                    Mistake("x and y swapped", "x is the column, y the row",
                            np.hypot(columns - cy, rows - cx) <= size / 2)])
    cases.passed()


@_isolated
def check_interpolate_styles(interpolate_styles: Callable[..., Any]) -> None:
    """Exercise 07.3: interpolate_styles(z_a, z_b, steps) against torch.lerp."""
    settings = [(8, 5), (256, 2), (3, 7)]
    cases = Cases("check_interpolate_styles", len(settings))
    for z_dim, steps in settings:
        cases.case(f"z_dim={z_dim}, steps={steps}")
        z_a, z_b = torch.randn(1, z_dim), torch.randn(1, z_dim)
        expected = torch.lerp(z_a, z_b, torch.linspace(0, 1, steps)[:, None])
        got = cases.call(interpolate_styles, z_a.clone(), z_b.clone(), steps)
        cases.close("codes", got, expected, "the walk starts exactly at z_a and ends exactly at z_b, in equal steps",
                    [Mistake("t / steps instead of t / (steps - 1)", "the last row must be z_b itself",
                             torch.lerp(z_a, z_b, torch.arange(steps)[:, None] / steps)),
                     Mistake("the walk reversed", "row 0 is z_a", expected.flip(0)),
                     Mistake("the end points left out", "row 0 is z_a and the last row z_b",
                             torch.lerp(z_a, z_b, torch.linspace(0, 1, steps + 2)[1:-1, None])),
                     Mistake("an extra batch dimension", "return (steps, z_dim): z_a and z_b are (1, z_dim)",
                             expected[None])],
                    atol=1e-5)
    cases.passed()

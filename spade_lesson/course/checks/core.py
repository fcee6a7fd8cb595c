"""What every exercise check shares: the verdict (CheckFailed, Mistake, Cases), rounding, the hints in tiers, and small
helpers.

The hints come in tiers, counted per check in this session: a check's first failed call names the mistake it
recognises and where (the quantity, the case, the index) without the fix; its second failed call adds the fix in
words (the mistake's advice); from its third (REVEAL_AFTER) on the verdict ends with the whole formula. An unsolved
exercise (NotImplementedError) counts as no failed call. `HINT_TIERS` is the sentence notebooks print before their
first exercise.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, NoReturn

import numpy as np
import torch

DIGITS = 4  # significant digits of the numbers a failed check prints
FIX_AFTER = 2  # from this failed call of a check on, a recognised mistake comes with its fix in words
REVEAL_AFTER = 3  # from this failed call of a check on, its verdict ends with the complete formula
HINT_TIERS = ("How the checks hint: a check's first failed call names what is wrong and where, the second says how to "
              "fix it in words, and only from the third on does it show the whole formula.")

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
    "check_sample_style": "z = mu + torch.exp(0.5 * logvar) * noise",
    "check_clade_forward": "segmap = F.interpolate(segmap, size=x.shape[2:], mode='nearest'); gamma = "
                           "torch.einsum('nlhw,lc->nchw', segmap, gamma_table) (beta likewise); "
                           "return F.batch_norm(x, None, None, training=True) * (1 + gamma) + beta",
    "check_spade_branch_macs": "height * width * (label_nc * hidden * k**2 + 2 * hidden * norm_nc * k**2 + norm_nc)",
}

_failed_calls: Counter[str] = Counter()  # failed calls per check in this session: the formula shows from the 3rd on


class CheckFailed(AssertionError):
    """A check's verdict on a wrong or unfinished answer: one line, shown in Jupyter without a traceback."""

    def _render_traceback_(self) -> list[str]:
        """What IPython prints in place of a traceback: the verdict alone."""
        return [f"{type(self).__name__}: {self}"]


class Mistake(NamedTuple):
    """A typical wrong answer: its name (what is wrong, shown first), its advice (the fix in words, shown from the
    second failed call on), and the value it gives on the case being checked."""

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
             advice: dict[type[BaseException], Mistake] | None = None, **kwargs: Any) -> Any:
        """function(*args, **kwargs), turning its errors into verdicts (advice: the mistake an exception type usually
        means, its value unused, named and fixed in tiers as any mistake); returns > 1 asks for a tuple of that
        length."""
        name = getattr(function, "__name__", "your function")
        try:
            result = function(*args, **kwargs)
        except NotImplementedError:
            raise CheckFailed(f"{self.check}: not implemented yet: fill in {name} above") from None
        except Exception as error:  # any bug in the student's code becomes one line, not a traceback
            mistake = next((m for kind, m in (advice or {}).items() if isinstance(error, kind)), None)
            extra = "" if mistake is None else f"; {self._named(mistake)}"
            self.fail(f"{name} raised {type(error).__name__}: {_first_line(error)} "
                      f"(call {name} yourself to see the full traceback){extra}")
        if result is None:
            self.fail(f"{name} returned None: does every path through it end in a `return`?")
        if returns > 1 and (not isinstance(result, (tuple, list)) or len(result) != returns):
            self.fail(f"{name} should return {returns} values, got {_brief(result)}")
        return result

    def _diagnosis(self, got: Any, hint: str, mistakes: Sequence[Mistake], atol: float, rtol: float) -> str:
        """The named mistakes that got equals, if any (the first one's fix from the FIX_AFTER-th failed call on);
        else the hint."""
        found = [mistake for mistake in mistakes if _matches(got, mistake.value, atol=atol, rtol=rtol)]
        if not found:
            return hint
        also = f" (on this case, {' or '.join(m.name for m in found[1:])} gives the same numbers)" if found[1:] else ""
        return self._named(found[0], also)

    def _named(self, mistake: Mistake, also: str = "") -> str:
        """'looks like <mistake>', with its fix in words from the FIX_AFTER-th failed call of this check on."""
        if _failed_calls[self.check] + 1 < FIX_AFTER:  # the verdict being written is one of the first failed calls
            return f"looks like {mistake.name}{also} (a second failed call says how to fix it)"
        return f"looks like {mistake.name}{also}; the fix: {mistake.advice}"

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

"""Exercise checks: run a student's function against a trusted reference and say in one line what is wrong.

Each `check_<name>(function)` prints `check_<name>: all N cases pass`, or raises `CheckFailed` naming the first case
that failed, the value expected and the value got (rounded) and a hint. A function that still raises
NotImplementedError (an unsolved nbgrader exercise) gets "not implemented yet: fill in <name> above". In Jupyter a
CheckFailed shows as that one line, without a traceback, and nbgrader's autograder counts the cell as failed.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NoReturn

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spade_lesson.baselines import count_parameters
from spade_lesson.clade import CLADE
from spade_lesson.data.semantic import one_hot
from spade_lesson.discriminator import NLayerDiscriminator
from spade_lesson.fid import frechet_distance
from spade_lesson.generator import latent_size
from spade_lesson.labelmap import LabelMap
from spade_lesson.losses import discriminator_loss, generator_loss, kl_divergence
from spade_lesson.metrics import confusion_matrix, miou, pixel_accuracy
from spade_lesson.probe import RIDGE, fit_probe
from spade_lesson.shared_predictor import SPADE2d, assign_spade_params
from spade_lesson.spade import SPADE
from spade_lesson.variants import norm_macs

DIGITS = 4  # significant digits of the numbers a failed check prints


class CheckFailed(AssertionError):
    """A check's verdict on a wrong or unfinished answer: one line, shown in Jupyter without a traceback."""

    def _render_traceback_(self) -> list[str]:
        """What IPython prints in place of a traceback: the verdict alone."""
        return [f"{type(self).__name__}: {self}"]


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
        """Raise the one-line verdict for the current case."""
        raise CheckFailed(f"{self.check}: case {self.number} of {self.total} ({self.description}): {message}")

    def call(self, function: Callable[..., Any], *args: Any, returns: int = 1, **kwargs: Any) -> Any:
        """function(*args, **kwargs), turning its errors into verdicts; returns > 1 asks for a tuple of that length."""
        name = getattr(function, "__name__", "your function")
        try:
            result = function(*args, **kwargs)
        except NotImplementedError:
            raise CheckFailed(f"{self.check}: not implemented yet: fill in {name} above") from None
        except Exception as error:  # any bug in the student's code becomes one line, not a traceback
            self.fail(f"{name} raised {type(error).__name__}: {_first_line(error)} "
                      f"(call {name} yourself to see the full traceback)")
        if returns > 1 and (not isinstance(result, (tuple, list)) or len(result) != returns):
            self.fail(f"{name} should return {returns} values, got {_brief(result)}")
        return result

    def close(self, what: str, got: Any, expected: torch.Tensor | float, hint: str, atol: float = 1e-6,
              rtol: float = 1e-5) -> None:
        """Fail unless got has the shape of expected and its values to atol + rtol * |expected|."""
        expected = torch.as_tensor(expected, dtype=torch.float64).detach().cpu()
        if not isinstance(got, (torch.Tensor, np.ndarray, float, int)) or isinstance(got, bool):
            self.fail(f"{what}: expected a tensor of shape {tuple(expected.shape)}, got {_brief(got)}")
        got = torch.as_tensor(got).detach().cpu().to(torch.float64)
        if got.shape != expected.shape:
            self.fail(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}; {hint}")
        wrong = ~torch.isclose(got, expected, rtol=rtol, atol=atol)
        if wrong.any():
            index = tuple(int(i) for i in wrong.nonzero()[0])
            where = f" at index {index}" if index else ""
            self.fail(f"{what}{where}: expected {_number(expected[index])}, got {_number(got[index])}; {hint}")

    def same(self, what: str, got: Any, expected: np.ndarray | torch.Tensor, hint: str) -> None:
        """Fail unless got is an array or tensor with exactly expected's shape and values."""
        expected = np.asarray(expected.cpu() if isinstance(expected, torch.Tensor) else expected)
        if not isinstance(got, (torch.Tensor, np.ndarray)):
            self.fail(f"{what}: expected an array of shape {expected.shape}, got {_brief(got)}")
        got = np.asarray(got.detach().cpu() if isinstance(got, torch.Tensor) else got)
        if got.shape != expected.shape:
            self.fail(f"{what}: expected shape {expected.shape}, got {got.shape}; {hint}")
        wrong = got != expected
        if wrong.any():
            index = tuple(int(i) for i in np.argwhere(wrong)[0])
            self.fail(f"{what} at index {index}: expected {_number(expected[index])}, got {_number(got[index])}; "
                      f"{hint}")

    def equal(self, what: str, got: Any, expected: Any, hint: str) -> None:
        """Fail unless got == expected (plain Python values: ints, tuples)."""
        try:
            different = bool(got != expected)
        except (RuntimeError, ValueError, TypeError):  # e.g. a tensor of several numbers has no single truth value
            different = True
        if different:
            self.fail(f"{what}: expected {expected!r}, got {_brief(got)}; {hint}")

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


# ---- 01 BatchNorm from scratch ---------------------------------------------------------------------------------


@_isolated
def check_batch_norm_train(batch_norm_train: Callable[..., Any]) -> None:
    """Exercise 01.1: batch_norm_train(x, weight, bias, eps) -> (out, mean, var) against F.batch_norm."""
    settings = [((6, 3, 4, 5), 1e-3), ((2, 4, 3, 3), 1e-5), ((8, 1, 2, 2), 0.1), ((1, 2, 5, 7), 1e-5)]
    cases = Cases("check_batch_norm_train", len(settings))
    for shape, eps in settings:
        cases.case(f"x {shape}, eps={eps}")
        x = _randn(*shape) * 2 - 1
        weight, bias = _randn(shape[1]), _randn(shape[1])
        out, mean, var = cases.call(batch_norm_train, x, weight, bias, eps=eps, returns=3)
        cases.close("mean", mean, x.mean(dim=(0, 2, 3)),
                    "one mean per channel, over the batch AND the positions: dims (0, 2, 3)")
        cases.close("var", var, x.var(dim=(0, 2, 3), unbiased=False),
                    "normalize with the BIASED variance: divide by m = N * H * W, not m - 1")
        cases.close("out", out, F.batch_norm(x, None, None, weight, bias, training=True, eps=eps),
                    "out = weight * (x - mean) / sqrt(var + eps) + bias, the (C,) tensors reshaped to (1, C, 1, 1)")
    cases.passed()


@_isolated
def check_update_running(update_running: Callable[..., Any]) -> None:
    """Exercise 01.2: update_running(...) -> (running_mean, running_var) against nn.BatchNorm2d's buffers."""
    momenta = [0.1, 0.7, None]
    cases = Cases("check_update_running", len(momenta))
    for momentum in momenta:
        cases.case(f"momentum={momentum}, 3 batches")
        reference = nn.BatchNorm2d(3, momentum=momentum).double()
        running_mean, running_var = reference.running_mean.clone(), reference.running_var.clone()
        for t in range(1, 4):
            x = _randn(4, 3, 2, 3) * t + t
            reference(x)
            mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
            running_mean, running_var = cases.call(update_running, running_mean, running_var, t, mean, var,
                                                   m=4 * 2 * 3, momentum=momentum, returns=2)
            factor = "1 / num_batches_tracked" if momentum is None else "momentum"
            cases.close(f"running_mean after batch {t}", running_mean, reference.running_mean,
                        f"(1 - {factor}) * running_mean + {factor} * mean")
            cases.close(f"running_var after batch {t}", running_var, reference.running_var,
                        f"store the UNBIASED variance: (1 - {factor}) * running_var + {factor} * var * m / (m - 1)")
    cases.passed()


@_isolated
def check_group_norm(my_group_norm: Callable[..., Any]) -> None:
    """Exercise 01.3: my_group_norm(x, num_groups, eps) against F.group_norm."""
    settings = [((3, 6, 4, 5), 1), ((3, 6, 4, 5), 2), ((3, 6, 4, 5), 3), ((3, 6, 4, 5), 6), ((2, 8, 3, 1), 4)]
    cases = Cases("check_group_norm", len(settings))
    for shape, groups in settings:
        cases.case(f"x {shape}, num_groups={groups}")
        x = _randn(*shape) * 3 + 1
        out = cases.call(my_group_norm, x, groups, eps=1e-3)
        cases.close("output", out, F.group_norm(x, groups, eps=1e-3),
                    "reshape to (N, G, C // G * H * W), normalize over the last dim (biased variance), reshape back")
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
        for class_id in range(label_nc):
            got = cases.call(uniform_map_response, conv.weight.detach(), conv.bias.detach(), class_id)
            cases.close(f"class {class_id}", got, response[class_id, :, 4, 4],
                        "every tap of the kernel sees the 1 of channel class_id: sum weight[:, class_id] over the "
                        "kernel and add the bias, one value per output channel")
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
        pred = cases.call(ridge_probe, x_train, y_train, x_test, num_classes, ridge=ridge)
        expected = _ridge_reference(x_train, y_train, x_test, num_classes, ridge)
        cases.same("predicted class", pred, expected,
                   "centre the features, solve (X^T X + ridge P I) W = X^T (Y - prior) and predict "
                   "argmax((x - mean) W + prior)")
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
            got = cases.call(spade_forward, x, segmap, reference.mlp_shared, reference.mlp_gamma, reference.mlp_beta)
            expected = reference(x, segmap)
        cases.close("output", got, expected,
                    "batch-normalize x (no affine), resize segmap to x's size (nearest), embedding = "
                    "mlp_shared(segmap), out = normalized * (1 + mlp_gamma(embedding)) + mlp_beta(embedding)",
                    atol=1e-5, rtol=1e-4)
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
        got = cases.call(split_params, list(num_features), params)
        if not isinstance(got, (list, tuple)) or len(got) != len(num_features):
            cases.fail(f"expected a list of {len(num_features)} (weight, bias) pairs, got {_brief(got)}")
        for index, (pair, layer) in enumerate(zip(got, layers)):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                cases.fail(f"layer {index}: expected a (weight, bias) pair, got {_brief(pair)}")
            hint = "layer l takes the next 2 * C_l channels: first C_l for the weight, then C_l for the bias"
            cases.close(f"layer {index} weight", pair[0], layer.weight, hint, atol=0.0, rtol=0.0)
            cases.close(f"layer {index} bias", pair[1], layer.bias, hint, atol=0.0, rtol=0.0)
    cases.passed()


# ---- 04 The networks ---------------------------------------------------------------------------------------------


@_isolated
def check_spade_parameter_count(spade_parameter_count: Callable[..., Any]) -> None:
    """Exercise 04.1: spade_parameter_count(norm_nc, label_nc, hidden, kernel_size) against a built SPADE."""
    settings = [(64, 9, 128, 3), (1024, 184, 128, 3), (8, 3, 16, 5), (16, 1, 32, 1)]
    cases = Cases("check_spade_parameter_count", len(settings))
    for norm_nc, label_nc, hidden, kernel_size in settings:
        cases.case(f"norm_nc={norm_nc}, label_nc={label_nc}, hidden={hidden}, kernel_size={kernel_size}")
        with torch.device("meta"):  # shapes only: no memory, no time
            expected = count_parameters(SPADE(norm_nc, label_nc, hidden=hidden, kernel_size=kernel_size))
        got = cases.call(spade_parameter_count, norm_nc, label_nc, hidden, kernel_size)
        cases.equal("parameters", got, expected,
                    "mlp_shared: label_nc * hidden * k * k weights + hidden biases; mlp_gamma and mlp_beta: "
                    "hidden * norm_nc * k * k + norm_nc each")
    cases.passed()


@_isolated
def check_start_size(start_size: Callable[..., Any]) -> None:
    """Exercise 04.2: start_size(crop_size, aspect_ratio, num_upsampling_layers) against generator.latent_size."""
    settings = [(256, 1.0, "normal"), (512, 2.0, "normal"), (512, 2.0, "more"), (1024, 1.0, "most"),
                (128, 1.0, "normal")]
    cases = Cases("check_start_size", len(settings))
    for crop_size, aspect_ratio, mode in settings:
        cases.case(f"crop_size={crop_size}, aspect_ratio={aspect_ratio}, {mode!r}")
        got = cases.call(start_size, crop_size, aspect_ratio, mode)
        got = tuple(got) if isinstance(got, (tuple, list)) else got
        cases.equal("(height, width)", got, latent_size(crop_size, aspect_ratio, mode),
                    "width = crop_size // 2**doublings (5, 6, 7), height = round(width / aspect_ratio)")
    cases.passed()


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
                    "each conv maps n to n // stride + 1; strides 2 for the first n_layers_D - 1 convs, then 1, 1")
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
        cases.close("hinge_d", cases.call(hinge_d, real, fake), d_fake + d_real,
                    "mean(relu(1 - real_logits)) + mean(relu(1 + fake_logits))", atol=1e-5)
        cases.close("hinge_g", cases.call(hinge_g, fake), generator_loss([[fake]], gan_mode="hinge"),
                    "the generator raises the fakes' logits: -mean(fake_logits)", atol=1e-5)
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
        got = cases.call(kl, mu, logvar)
        cases.close("KL", got, reference, "-0.5 * sum(1 + logvar - mu**2 - exp(logvar)), summed over every element")
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
        got = cases.call(miou_from_confusion, conf.clone())
        cases.close("mIoU", got, miou(conf),
                    "IoU_c = TP_c / (TP_c + FP_c + FN_c), averaged over the classes whose union is not empty",
                    atol=1e-9)
    cases.passed()


@_isolated
def check_frechet_distance(my_frechet_distance: Callable[..., Any]) -> None:
    """Exercise 06.2: my_frechet_distance(mu1, sigma1, mu2, sigma2) against the diagonal closed form and fid's."""
    cases = Cases("check_frechet_distance", 5)
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 4.0, 1.0])
    mu1, mu2 = torch.zeros(3), torch.tensor([1.0, 2.0, 2.0])
    cases.case("diagonal covariances, dim 3")
    closed_form = (mu1 - mu2).square().sum() + (a.sqrt() - b.sqrt()).square().sum()  # commuting covariances
    cases.close("distance", cases.call(my_frechet_distance, mu1, torch.diag(a), mu2, torch.diag(b)), closed_form,
                "|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^1/2)", atol=1e-6)
    cases.case("a Gaussian against itself, dim 4")
    root, mean = _randn(4, 4), _randn(4)
    got = cases.call(my_frechet_distance, mean, root @ root.T, mean.clone(), root @ root.T)
    cases.close("distance", got, 0.0, "the distance of a Gaussian to itself is 0", atol=1e-6)
    for dim in (2, 5, 16):
        cases.case(f"random covariances that do not commute, dim {dim}")
        x, y = _randn(dim, dim), _randn(dim, dim)
        m1, m2 = _randn(dim), _randn(dim)
        expected = frechet_distance(m1, x @ x.T, m2, y @ y.T)
        cases.close("distance", cases.call(my_frechet_distance, m1, x @ x.T, m2, y @ y.T), expected,
                    "tr((sigma1 sigma2)^1/2) = sum of sqrt(eigvalsh(root1 @ sigma2 @ root1)), "
                    "root1 = sqrtm_psd(sigma1)",
                    atol=1e-6, rtol=1e-6)
    cases.passed()


# ---- 07 Interactive GauGAN ---------------------------------------------------------------------------------------


@_isolated
def check_flood_fill(flood_fill: Callable[..., Any]) -> None:
    """Exercise 07.1: flood_fill(label, x, y, class_id) against LabelMap.fill, on random maps and a huge region."""
    trials = 20
    cases = Cases("check_flood_fill", trials + 2)
    rng = np.random.default_rng(0)
    for trial in range(trials):
        noisy = (rng.random((24, 32)) < 0.45).astype(np.uint8)  # blobs of 0 and 1 with winding borders
        x, y = int(rng.integers(32)), int(rng.integers(24))
        cases.case(f"random 24 x 32 map {trial}, fill at x={x}, y={y}")
        reference = LabelMap.from_array(noisy, num_classes=3)
        reference.fill(x, y, class_id=2)
        label = noisy.copy()
        got = cases.call(flood_fill, label, x, y, 2)
        cases.same("filled map", got, reference.to_numpy(),
                   "fill only pixels reachable by up/down/left/right steps through the clicked pixel's id")
        cases.same("the map passed in", label, noisy, "leave the input as it was: fill a copy, label.copy()")
    cases.case("a map filled with its own class")
    got = cases.call(flood_fill, np.ones((5, 6), dtype=np.uint8), 2, 3, 1)
    cases.same("filled map", got, np.ones((5, 6), dtype=np.uint8), "filling with the id already there changes nothing")
    cases.case("a 300 x 300 map of one class: 90000 pixels, far beyond Python's recursion limit")
    got = cases.call(flood_fill, np.zeros((300, 300), dtype=np.uint8), 0, 0, 1)
    cases.same("filled map", got, np.ones((300, 300), dtype=np.uint8),
               "keep a list of pixels still to visit instead of recursing")
    cases.passed()


@_isolated
def check_brush_mask(brush_mask: Callable[..., Any]) -> None:
    """Exercise 07.2: brush_mask(height, width, x, y, size) against LabelMap.stroke at one point."""
    settings = [(5.2, 7.9, 1), (0, 0, 4), (10.5, 3.1, 5), (15.9, 11.0, 7.5), (8, 8, 2)]
    cases = Cases("check_brush_mask", len(settings))
    for x, y, size in settings:
        cases.case(f"12 x 16 map, x={x}, y={y}, size={size}")
        reference = LabelMap(12, 16, num_classes=2)
        reference.stroke([(x, y)], class_id=1, size=size)
        got = cases.call(brush_mask, 12, 16, x, y, size)
        cases.same("mask", got, reference.to_numpy() == 1,
                   "snap (x, y) to its pixel's centre (floor + 0.5), then keep pixel centres within size / 2")
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
        got = cases.call(interpolate_styles, z_a, z_b, steps)
        cases.close("codes", got, expected,
                    "row t is (1 - t / (steps - 1)) * z_a + t / (steps - 1) * z_b: the first row z_a, the last z_b",
                    atol=1e-5)
    cases.passed()



# ---- 08 Ablations ------------------------------------------------------------------------------------------------


def _clade_mistakes(x: torch.Tensor, segmap: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> dict[str, Any]:
    """Outputs of typical wrong CLADE forwards, each under the hint that names the mistake (None: not testable)."""
    def modulate(normalized: torch.Tensor, mode: str = "nearest", scale: float = 1.0) -> torch.Tensor:
        """normalized * (scale + gamma) + beta with the tables read through the map resized by `mode`."""
        resized = F.interpolate(segmap, size=x.shape[2:], mode=mode)
        g, b = torch.einsum("nlhw,lc->nchw", resized, gamma), torch.einsum("nlhw,lc->nchw", resized, beta)
        return normalized * (scale + g) + b

    batch = F.batch_norm(x, None, None, training=True)
    return {
        "the scale is 1 + gamma, not gamma (a table of zeros must leave the normalized x unchanged)":
            modulate(batch, scale=0.0),
        "normalize with batch statistics (over N, H, W per channel), not per image (that is InstanceNorm)":
            modulate(F.instance_norm(x)),
        "normalize x first: (x - mean) / sqrt(var + eps) with the batch's mean and variance": modulate(x),
        "resize the label map with mode='nearest': bilinear mixes classes at region borders":
            modulate(batch, "bilinear") if segmap.shape[2:] != x.shape[2:] else None,
    }


@_isolated
def check_clade_forward(clade_forward: Callable[..., Any]) -> None:
    """Exercise 08.1: clade_forward(x, segmap, gamma_table, beta_table) against spade_lesson.clade.CLADE."""
    settings = [(6, 4, (16, 16), (16, 16), False), (3, 5, (8, 8), (32, 32), False), (4, 3, (8, 12), (16, 24), True)]
    cases = Cases("check_clade_forward", len(settings))
    for norm_nc, label_nc, size, map_size, dont_care in settings:
        cases.case(f"x (4, {norm_nc}, {size[0]}, {size[1]}), segmap (4, {label_nc}, {map_size[0]}, {map_size[1]})"
                   + (" with don't-care pixels" if dont_care else ""))
        reference = CLADE(norm_nc, label_nc)
        with torch.no_grad():
            reference.gamma.normal_()
            reference.beta.normal_()
        x = torch.randn(4, norm_nc, *size) * 2 + 1
        segmap = one_hot(torch.randint(label_nc, (4, *map_size)), label_nc)
        if dont_care:
            segmap[:, :, ::2, ::2] = 0  # every other pixel has no class: spade_lesson.data.one_hot's all-zero vector
        gamma, beta = reference.gamma.detach().clone(), reference.beta.detach().clone()
        with torch.no_grad():
            got = cases.call(clade_forward, x, segmap, gamma, beta)
            expected = reference(x, segmap)
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            for hint, wrong in _clade_mistakes(x, segmap, gamma, beta).items():
                if wrong is not None and torch.allclose(got.double(), wrong.double(), atol=1e-5, rtol=1e-4):
                    cases.fail(hint)
        cases.close("output", got, expected,
                    "gamma at a pixel is the row of gamma_table for that pixel's class (an all-zero vector, no "
                    "class, gives a zero row: torch.einsum('nlhw,lc->nchw', segmap, gamma_table) does both); "
                    "out = normalized * (1 + gamma) + beta", atol=1e-5, rtol=1e-4)
    cases.passed()


class _OneSPADE(nn.Module):
    """One SPADE layer called like a generator, forward(semantic), on a zero activation of the map's size."""

    def __init__(self, spade: nn.Module, norm_nc: int) -> None:
        super().__init__()
        self.spade, self.norm_nc = spade, norm_nc

    def forward(self, semantic: torch.Tensor) -> torch.Tensor:
        """semantic: (1, label_nc, H, W) -> the layer's output (1, norm_nc, H, W)."""
        return self.spade(torch.zeros(1, self.norm_nc, *semantic.shape[2:]), semantic)


@_isolated
def check_spade_branch_macs(spade_branch_macs: Callable[..., Any]) -> None:
    """Exercise 08.2: spade_branch_macs(norm_nc, label_nc, hidden, kernel_size, height, width) against
    spade_lesson.variants.norm_macs counting one SPADE layer."""
    settings = [(16, 9, 32, 3, 8, 8), (256, 9, 32, 3, 4, 4), (4, 3, 8, 1, 16, 12), (8, 5, 16, 5, 6, 10)]
    cases = Cases("check_spade_branch_macs", len(settings))
    for norm_nc, label_nc, hidden, kernel_size, height, width in settings:
        cases.case(f"norm_nc={norm_nc}, label_nc={label_nc}, hidden={hidden}, kernel_size={kernel_size}, "
                   f"{height} x {width}")
        layer = SPADE(norm_nc, label_nc, hidden=hidden, kernel_size=kernel_size)
        expected = norm_macs(_OneSPADE(layer, norm_nc), label_nc, height, width)
        got = cases.call(spade_branch_macs, norm_nc, label_nc, hidden, kernel_size, height, width)
        positions, k2 = height * width, kernel_size**2
        shared, one_map, modulation = label_nc * hidden * k2, hidden * norm_nc * k2, norm_nc
        mistakes = {
            positions * (shared + one_map + modulation): "gamma and beta each have their own conv: count it twice",
            positions * (2 * one_map + modulation): "the shared conv (label_nc -> hidden) runs first: count it too",
            positions * (shared + 2 * one_map): "add one multiply-add per output value for x_hat * (1 + gamma) + beta",
            positions * (label_nc * hidden + 2 * hidden * norm_nc + modulation):
                "each output value of a k x k conv sums C_in * k * k products, not C_in",
        }
        if got in mistakes and got != expected:
            cases.fail(f"expected {expected}, got {got}: {mistakes[got]}")
        cases.equal("multiply-adds", got, expected,
                    "per position: label_nc * hidden * k^2 (shared conv) + 2 * hidden * norm_nc * k^2 (gamma and "
                    "beta convs) + norm_nc (the scale and shift); times height * width")
    cases.passed()

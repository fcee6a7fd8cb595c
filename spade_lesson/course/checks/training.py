"""Checks of the exercises in notebook 05, training."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from spade_lesson.course.checks.core import Cases, Mistake, _isolated, _randn
from spade_lesson.training.losses import discriminator_loss, generator_loss, kl_divergence


@_isolated
def check_hinge_loss(hinge_d: Callable[..., Any], hinge_g: Callable[..., Any]) -> None:
    """Exercise 05.1: hinge_d(real_logits, fake_logits) and hinge_g(fake_logits) against
    spade_lesson.training.losses."""
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
    """Exercise 05.2: kl(mu, logvar) against torch.distributions and spade_lesson.training.losses.kl_divergence."""
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
                    "element of the code: check each element's term first (which of mu, logvar, sigma^2 it reads), "
                    "then how the terms are reduced",
                    [Mistake("a mean instead of a sum", "sum over the batch and the code's dimensions",
                             -0.5 * terms.mean()),
                     Mistake("a mean over the batch", "the official code sums over the batch too",
                             -0.5 * terms.sum() / shape[0]),
                     Mistake("a swapped sign", "a KL divergence is never negative", 0.5 * terms.sum()),
                     Mistake("the 1 left out", "each element's term starts with 1 + logvar",
                             -0.5 * (terms - 1).sum()),
                     Mistake("the factor -1/2 replaced by -1", "the closed form has a factor 1/2", -terms.sum()),
                     Mistake("logvar read as sigma", "logvar is the log of the variance: the variance is its "
                             "exponential", -0.5 * (1 + 2 * logvar.abs().log() - mu**2 - logvar**2).sum()),
                     Mistake("logvar used as the variance in the last term", "logvar is the log of the variance: "
                             "the term that subtracts the variance needs its exponential",
                             -0.5 * (1 + logvar - mu**2 - logvar).sum()),
                     Mistake("logvar used as the variance (its log taken again)", "logvar already is the log of the "
                             "variance: use it as it is, and its exponential where the variance itself appears",
                             -0.5 * (1 + logvar.log() - mu**2 - logvar).sum())])
        cases.close("KL against the package's", got, kl_divergence(mu, logvar), "sum, do not average")
    cases.passed()

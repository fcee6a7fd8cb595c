"""Tests for spade_lesson.course.trainability: the with/without-normalization decoder fit is seeded, shared and
checked."""

from __future__ import annotations

import math

import pytest
import torch

from spade_lesson.course import trainability
from spade_lesson.course.trainability import fit_decoder

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py
SMALL = {"steps": 3, "size": 64, "batch_size": 2, "train_images": 4, "val_images": 2}


@pytest.mark.slow
def test_a_fit_records_every_step_and_a_held_out_score_and_repeats_exactly() -> None:
    first = fit_decoder("batch", 1e-3, **SMALL)
    assert len(first.losses) == 3 and all(math.isfinite(loss) for loss in first.losses)
    assert 0 < first.val_l1 < 2 and (first.norm, first.lr, first.seed) == ("batch", 1e-3, 0)
    assert fit_decoder("batch", 1e-3, **SMALL) == first
    assert fit_decoder("batch", 1e-3, seed=1, **SMALL).losses != first.losses


def test_with_and_without_normalization_start_from_the_same_conv_weights(monkeypatch) -> None:
    convs, norms = [], []
    original = trainability.InputOnlyGenerator

    def spy(*args, **kwargs):
        """The generator fit_decoder builds, its conv weights copied before any step."""
        generator = original(*args, **kwargs)
        convs.append([m.weight.detach().clone() for m in generator.modules() if isinstance(m, torch.nn.Conv2d)])
        norms.append(sum(isinstance(m, torch.nn.BatchNorm2d) for m in generator.modules()))
        return generator

    monkeypatch.setattr(trainability, "InputOnlyGenerator", spy)
    fit_decoder("batch", 1e-3, **{**SMALL, "steps": 1})
    fit_decoder("none", 1e-3, **{**SMALL, "steps": 1})
    assert len(convs[0]) == len(convs[1]) > 10 and all(torch.equal(a, b) for a, b in zip(*convs))
    assert norms[0] > 0 and norms[1] == 0


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="norm='layer': use one of batch, none"):
        fit_decoder("layer", 1e-3, 1)
    with pytest.raises(ValueError, match="steps=0"):
        fit_decoder("batch", 1e-3, 0)

"""spade_lesson.trainer: the lr schedule, AMP off CUDA, and training a generator it is given."""

from __future__ import annotations

import pytest
import torch

from spade_lesson.baselines import BaselineGenerator
from spade_lesson.config import fast_config
from spade_lesson.trainer import SPADETrainer, learning_rate_factor, resolve_amp

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_learning_rate_decays_linearly_to_zero():
    assert [learning_rate_factor(step, 10, 6) for step in (0, 5, 6, 8, 10)] == [1.0, 1.0, 1.0, 0.5, 0.0]
    assert learning_rate_factor(9, 10, None) == 1.0


def test_autocast_is_for_cuda_only():
    assert resolve_amp("auto", torch.device("cpu")) is None
    assert resolve_amp("bf16", torch.device("cpu")) is None


def test_the_trainer_trains_the_generator_it_is_given():
    config = fast_config()
    generator = BaselineGenerator(9, ngf=4, crop_size=config.size, norm="batch")
    trainer = SPADETrainer(config, 9, generator=generator)
    assert trainer.generator is generator and trainer.device == torch.device("cpu")
    assert trainer.ema is not generator and trainer.opt_G.param_groups[0]["params"][0] is next(generator.parameters())
    before = generator.conv_img.weight.detach().clone()
    trainer.step(torch.randint(0, 9, (2, 32, 32)), torch.rand(2, 3, 32, 32) * 2 - 1)
    assert not torch.equal(before, generator.conv_img.weight)

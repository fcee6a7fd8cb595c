"""spade_lesson.training.trainer: the lr schedule, AMP, channels-last and compile on the CPU, a generator it is
given."""

from __future__ import annotations

import copy
import functools

import pytest
import torch

from spade_lesson.models.baselines import BaselineGenerator
from spade_lesson.training.config import fast_config
from spade_lesson.training.trainer import SPADETrainer, learning_rate_factor

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_learning_rate_decays_linearly_to_zero():
    assert [learning_rate_factor(step, 10, 6) for step in (0, 5, 6, 8, 10)] == [1.0, 1.0, 1.0, 0.5, 0.0]
    assert learning_rate_factor(9, 10, None) == 1.0


LABEL, IMAGE = torch.randint(0, 9, (2, 32, 32), generator=torch.Generator().manual_seed(0)), \
    torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1


def first_step(**settings) -> tuple[SPADETrainer, dict[str, torch.Tensor]]:
    """A fast-preset trainer (seed 0) and the losses of its first step on a fixed batch."""
    torch.manual_seed(0)
    trainer = SPADETrainer(fast_config(**settings), 9, torch.device("cpu"))
    return trainer, trainer.step(LABEL, IMAGE)


@pytest.mark.slow
def test_bf16_autocast_runs_the_networks_in_bf16_on_cpu():
    trainer, losses = first_step(amp="bf16")
    seen = []
    trainer.generator.conv_img.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    trainer.step(LABEL, IMAGE)
    assert seen == [torch.bfloat16] and trainer.generator.conv_img.weight.dtype == torch.float32
    _, reference = first_step(amp="none")
    for key, value in losses.items():  # the same step in float32, to bf16's precision
        torch.testing.assert_close(value, reference[key], rtol=0.05, atol=0.05)


@pytest.mark.slow
def test_channels_last_on_cpu_changes_the_layout_not_the_step():
    trainer, losses = first_step(channels_last=True)
    assert trainer.memory_format == torch.channels_last
    assert trainer.generator.conv_img.weight.is_contiguous(memory_format=torch.channels_last)
    _, reference = first_step(channels_last=False)
    for key, value in losses.items():
        torch.testing.assert_close(value, reference[key], rtol=1e-4, atol=1e-5)


def test_fp16_runs_with_a_grad_scaler_on_cpu(capsys):
    trainer, losses = first_step(amp="fp16")
    if torch.__version__ < "2.5":  # CPU fp16 autocast and its GradScaler came with torch 2.5: float32, said in a line
        assert trainer.amp_dtype is None and not trainer.scaler_G.is_enabled()
        assert capsys.readouterr().err.strip().endswith("training in float32")
        return
    assert trainer.amp_dtype == torch.float16 and trainer.scaler_G.is_enabled() and trainer.scaler_D.is_enabled()
    assert all(torch.isfinite(value) for value in losses.values())
    state = trainer.state_dict()
    assert state["scaler_G"]["scale"] > 0  # the loss scale a checkpoint carries
    trainer.load_state_dict(state)


@pytest.mark.slow
def test_compile_is_a_cpu_option_too(monkeypatch):
    # aot_eager: dynamo's tracing and AOTAutograd (what every device shares) without a C++ build, in ~40 s
    if not torch._dynamo.is_dynamo_supported():  # e.g. a Python version this torch's dynamo does not support yet
        pytest.skip(f"torch {torch.__version__}'s dynamo does not run on this Python")
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    trainer, losses = first_step(compile=True)
    assert trainer.g_run is not trainer.generator
    _, reference = first_step(compile=False)
    # compiled graphs round differently; a BatchNorm over 2 values (1 x 1 start map, batch 2) magnifies it
    for key, value in losses.items():
        torch.testing.assert_close(value, reference[key], rtol=1e-2, atol=1e-3)


def test_the_trainer_trains_the_generator_it_is_given():
    config = fast_config()
    generator = BaselineGenerator(9, ngf=4, crop_size=config.size, norm="batch")
    trainer = SPADETrainer(config, 9, torch.device("cpu"), generator=generator)
    assert trainer.generator is generator and trainer.device == torch.device("cpu")
    assert trainer.ema is not generator and trainer.opt_G.param_groups[0]["params"][0] is next(generator.parameters())
    before = generator.conv_img.weight.detach().clone()
    trainer.step(torch.randint(0, 9, (2, 32, 32)), torch.rand(2, 3, 32, 32) * 2 - 1)
    assert not torch.equal(before, generator.conv_img.weight)


@pytest.mark.usefixtures("lookups_always")  # tests/conftest.py
@pytest.mark.slow
def test_the_lookup_step_is_the_plain_step():
    lookup, losses = first_step(one_hot_lookup=True)
    plain, reference = first_step(one_hot_lookup=False)
    for key, value in losses.items():
        torch.testing.assert_close(value, reference[key], rtol=1e-4, atol=1e-5)
    for name in ("G", "D"):  # the step's gradients (Adam's first step, ~lr * sign(g), would magnify rounding)
        pairs = list(zip(lookup.networks()[name].parameters(), plain.networks()[name].parameters()))
        scale = max(float(b.grad.abs().max()) for _, b in pairs)  # biases before a norm get ~0 gradients: rounding
        for a, b in pairs:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5 * scale)


def test_sampling_before_the_first_step_draws_what_the_untrained_generator_draws():
    trainer = SPADETrainer(fast_config(use_vae=False), 5, torch.device("cpu"), (32, 32))
    label = torch.randint(0, 5, (2, 32, 32), generator=torch.Generator().manual_seed(1))
    state = {key: value.clone() for key, value in trainer.generator.state_dict().items()}
    drawn = trainer.generate(label)
    with torch.no_grad():
        expected = copy.deepcopy(trainer.generator).train()(trainer.semantic(label))
    torch.testing.assert_close(drawn, expected)
    assert drawn.std() < 0.2  # an untrained G's small outputs, not the saturated noise of never-iterated sigmas
    assert all(torch.equal(state[key], value) for key, value in trainer.generator.state_dict().items())
    trainer.step(label, torch.rand(2, 3, 32, 32) * 2 - 1)
    with torch.no_grad():
        torch.testing.assert_close(trainer.generate(label), trainer.ema(trainer.semantic(label)))  # then the EMA's

"""spade_lesson.training.networks: the one builder of a run's networks, shared by the trainer and the checkpoint
loader."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from spade_lesson.layers.semantic_input import semantic_nc
from spade_lesson.models.discriminator import MultiscaleDiscriminator
from spade_lesson.models.encoder import ConvEncoder
from spade_lesson.models.generator import SPADEGenerator
from spade_lesson.training.config import fast_config
from spade_lesson.training.networks import build_networks, check_memory, training_bytes
from spade_lesson.training.trainer import SPADETrainer


def test_the_networks_follow_the_config():
    nets = build_networks(fast_config(use_vae=True, num_D=3), 9)
    assert isinstance(nets["G"], SPADEGenerator) and nets["G"].output_size == (32, 32) and nets["G"].use_vae
    assert isinstance(nets["D"], MultiscaleDiscriminator) and len(list(nets["D"].children())) == 3
    assert isinstance(nets["E"], ConvEncoder)
    assert set(build_networks(fast_config(), 9, discriminator=False)) == {"G"}
    assert build_networks(fast_config(size=64), 9, image_size=(64, 128))["G"].output_size == (64, 128)


@pytest.mark.slow
def test_the_trainer_builds_its_networks_with_the_same_builder():
    config = fast_config(use_vae=True)
    torch.manual_seed(0)
    built = build_networks(config, 9)
    torch.manual_seed(0)
    trainer = SPADETrainer(config, 9, torch.device("cpu"))
    for key, module in trainer.networks().items():
        reference = built["G" if key == "EMA" else key].state_dict()
        assert all(torch.equal(a, b) for a, b in zip(reference.values(), module.state_dict().values())), key


def test_every_network_starts_as_the_config_initializes_it_a_given_generator_too():
    config = fast_config(use_vae=True, init_type="normal", init_variance=0.05)
    torch.manual_seed(0)
    given = SPADEGenerator(9, ngf=4, crop_size=32, use_vae=True, spade_hidden=8)  # PyTorch's default init
    nets = build_networks(config, 9, generator=given)
    assert nets["G"] is given
    for key, network in nets.items():
        layers = [m for m in network.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        weights = torch.cat([getattr(m, "weight_orig", m.weight).detach().flatten() for m in layers])
        assert float(weights.std()) == pytest.approx(0.05, rel=0.1), key  # "normal": N(0, init_variance^2)
        assert all(m.bias is None or not m.bias.any() for m in layers), key


def test_the_papers_cityscapes_generator_and_its_input():
    config = fast_config(size=512, aspect_ratio=2.0, num_upsampling_layers="more", no_instance=False)
    with torch.device("meta"):  # the shapes only, no weights drawn
        generator = build_networks(config, semantic_nc(35, no_instance=False), discriminator=False)["G"]
    assert generator.output_size == (256, 512) and (generator.start_height, generator.start_width) == (4, 8)
    assert generator.semantic_nc == 36 and "up_4" not in dict(generator.named_children())


def test_training_bytes_counts_every_copy_without_allocating():
    config = fast_config()
    nets = build_networks(config, 5)
    weights = {key: sum(p.numel() * 4 for p in net.parameters()) for key, net in nets.items()}
    assert training_bytes(config, 5) == 5 * weights["G"] + 4 * weights["D"]  # G: +EMA; both: grads, Adam m and v
    huge = dataclasses.replace(config, ngf=1_000_000)
    assert training_bytes(huge, 5) > 10**15  # counted on the meta device: a petabyte is never asked for


def test_a_run_too_large_for_the_device_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"ngf=1000000, .* need \d+ PB, more than the .* of memory on cpu: lower "
                                         r"--ngf") as error:
        check_memory(fast_config(ngf=1_000_000), 5, None, torch.device("cpu"))
    assert "\n" not in str(error.value)
    check_memory(fast_config(), 5, None, torch.device("cpu"))

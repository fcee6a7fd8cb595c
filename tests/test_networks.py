"""spade_lesson.networks: the one builder of a run's networks, shared by the trainer and the checkpoint loader."""

from __future__ import annotations

import torch

from spade_lesson.config import fast_config
from spade_lesson.discriminator import MultiscaleDiscriminator
from spade_lesson.encoder import ConvEncoder
from spade_lesson.generator import SPADEGenerator
from spade_lesson.networks import build_networks
from spade_lesson.trainer import SPADETrainer


def test_the_networks_follow_the_config():
    nets = build_networks(fast_config(use_vae=True, num_D=3), 9)
    assert isinstance(nets["G"], SPADEGenerator) and nets["G"].output_size == (32, 32) and nets["G"].use_vae
    assert isinstance(nets["D"], MultiscaleDiscriminator) and len(list(nets["D"].children())) == 3
    assert isinstance(nets["E"], ConvEncoder)
    assert set(build_networks(fast_config(), 9, discriminator=False)) == {"G"}
    assert build_networks(fast_config(size=64), 9, image_size=(64, 128))["G"].output_size == (64, 128)


def test_the_trainer_builds_its_networks_with_the_same_builder():
    config = fast_config(use_vae=True)
    torch.manual_seed(0)
    built = build_networks(config, 9)
    torch.manual_seed(0)
    trainer = SPADETrainer(config, 9)
    for key, module in trainer.networks().items():
        reference = built["G" if key == "EMA" else key].state_dict()
        assert all(torch.equal(a, b) for a, b in zip(reference.values(), module.state_dict().values())), key

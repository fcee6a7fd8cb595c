"""The networks of a training run, built from its TrainConfig: one builder for the trainer and the checkpoint loader.

Every network it returns is initialized as the config says (`init_type`, `init_variance`; the official Xavier with gain
0.02 by default, spade_lesson.layers.initialization), a generator passed in too, so that compared models start alike.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from spade_lesson.layers.initialization import init_weights
from spade_lesson.models.discriminator import MultiscaleDiscriminator, check_depth
from spade_lesson.models.encoder import ConvEncoder
from spade_lesson.models.generator import SPADEGenerator
from spade_lesson.runtime.machine import device_memory
from spade_lesson.training.config import TrainConfig


def check_generator(generator: object) -> None:
    """A one-line ValueError unless generator is an nn.Module whose forward can be called as forward(semantic, z)."""
    try:
        inspect.signature(generator.forward).bind(None, None)
        fits = isinstance(generator, nn.Module)
    except (AttributeError, TypeError, ValueError):
        fits = False
    if not fits:
        raise ValueError(f"generator={type(generator).__name__}: pass an nn.Module whose forward takes (semantic, "
                         "z=None), such as spade_lesson.models.baselines' generators")


def build_networks(config: TrainConfig, semantic_nc: int, image_size: tuple[int, int] | None = None,
                   generator: nn.Module | None = None, discriminator: bool = True) -> dict[str, nn.Module]:
    """G, D (multi-scale discriminator; unless discriminator=False, for sampling) and, with use_vae, E (encoder).

    image_size: (H, W) of the generated images; default config.image_size (size wide, size / aspect_ratio high).
    generator: G when given (anything with forward(semantic, z=None)), re-initialized as the config says; default: the
    SPADE generator of the config.
    """
    height, width = image_size if image_size is not None else config.image_size
    if generator is not None:
        check_generator(generator)
    if generator is None:
        generator = SPADEGenerator(semantic_nc, ngf=config.ngf, num_upsampling_layers=config.num_upsampling_layers,
                                   crop_size=width, aspect_ratio=width / height, use_vae=config.use_vae,
                                   spade_hidden=config.spade_hidden)
    elif config.use_vae and not hasattr(generator, "z_dim"):
        raise ValueError(f"use_vae=True but the generator {type(generator).__name__} takes no style z (no z_dim): "
                         "train it with use_vae=False")
    nets: dict[str, nn.Module] = {"G": generator}  # by checkpoint key
    if discriminator:  # D sees the label map and the image, concatenated
        check_depth((height, width), config.num_D, config.n_layers_D)
        nets["D"] = MultiscaleDiscriminator(semantic_nc + 3, num_D=config.num_D, n_layers_D=config.n_layers_D,
                                            ndf=config.ndf)
    if config.use_vae:
        nets["E"] = ConvEncoder(ngf=config.ngf)
    for network in nets.values():
        init_weights(network, config.init_type, config.init_variance)  # the official init_type, init_variance
    return nets


TRAINING_COPIES = {"G": 5, "D": 4, "E": 4}  # weights, gradients, Adam's two moments; G also has its EMA copy


def training_bytes(config: TrainConfig, semantic_nc: int, image_size: tuple[int, int] | None = None,
                   generator: nn.Module | None = None) -> int:
    """Bytes of the weights, gradients, Adam moments and EMA a run holds (activations aside), counted on the meta
    device: nothing is allocated, so a network too large for any memory is measured in a second."""
    with torch.device("meta"):
        nets = build_networks(config, semantic_nc, image_size)
    if generator is not None:  # a given generator is counted as it is (building it would initialize it again)
        check_generator(generator)
        nets["G"] = generator
    return sum(TRAINING_COPIES[key] * sum(p.numel() * p.element_size() for p in net.parameters())
               for key, net in nets.items())


def check_memory(config: TrainConfig, semantic_nc: int, image_size: tuple[int, int] | None, device: torch.device,
                 generator: nn.Module | None = None) -> None:
    """A one-line ValueError, before anything is allocated, when the run's weights alone exceed the device's memory."""
    needed, available = training_bytes(config, semantic_nc, image_size, generator), device_memory(device)
    if available is not None and needed > available:
        raise ValueError(f"ngf={config.ngf}, ndf={config.ndf}, spade_hidden={config.spade_hidden} make networks whose "
                         f"weights, gradients and Adam state need {_bytes(needed)}, more than the {_bytes(available)} "
                         f"of memory on {device}: lower --ngf / --ndf / --spade-hidden (the official 64, 64, 128)")


def _bytes(count: float) -> str:
    """A byte count for people: 3 GB, 9 PB."""
    unit = 0
    while count >= 1000 and unit < 5:
        count, unit = count / 1000, unit + 1
    return f"{count:.0f} {('B', 'kB', 'MB', 'GB', 'TB', 'PB')[unit]}"

"""The networks of a training run, built from its TrainConfig: one builder for the trainer and the checkpoint loader.

Every network it returns is initialized as the config says (`init_type`, `init_variance`; the official Xavier with gain
0.02 by default, spade_lesson.initialization), a generator passed in too, so that compared models start alike.
"""

from __future__ import annotations

from torch import nn

from spade_lesson.config import TrainConfig
from spade_lesson.discriminator import MultiscaleDiscriminator
from spade_lesson.encoder import ConvEncoder
from spade_lesson.generator import SPADEGenerator
from spade_lesson.initialization import init_weights


def build_networks(config: TrainConfig, semantic_nc: int, image_size: tuple[int, int] | None = None,
                   generator: nn.Module | None = None, discriminator: bool = True) -> dict[str, nn.Module]:
    """G, D (multi-scale discriminator; unless discriminator=False, for sampling) and, with use_vae, E (encoder).

    image_size: (H, W) of the generated images; default config.image_size (size wide, size / aspect_ratio high).
    generator: G when given (anything with forward(semantic, z=None)), re-initialized as the config says; default: the
    SPADE generator of the config.
    """
    height, width = image_size if image_size is not None else config.image_size
    if generator is None:
        generator = SPADEGenerator(semantic_nc, ngf=config.ngf, num_upsampling_layers=config.num_upsampling_layers,
                                   crop_size=width, aspect_ratio=width / height, use_vae=config.use_vae,
                                   spade_hidden=config.spade_hidden)
    elif config.use_vae and not hasattr(generator, "z_dim"):
        raise ValueError(f"use_vae=True but the generator {type(generator).__name__} takes no style z (no z_dim): "
                         "train it with use_vae=False")
    nets: dict[str, nn.Module] = {"G": generator}  # by checkpoint key
    if discriminator:  # D sees the label map and the image, concatenated
        nets["D"] = MultiscaleDiscriminator(semantic_nc + 3, num_D=config.num_D, n_layers_D=config.n_layers_D,
                                            ndf=config.ndf)
    if config.use_vae:
        nets["E"] = ConvEncoder(ngf=config.ngf)
    for network in nets.values():
        init_weights(network, config.init_type, config.init_variance)  # the official init_type, init_variance
    return nets

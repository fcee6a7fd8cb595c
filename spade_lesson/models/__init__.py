"""The networks: SPADE's generator, the multi-scale discriminator, the style encoder, the baselines and ablation
variants the paper compares against, one predictor for every layer's gamma/beta, and the loader for official
checkpoints."""

from spade_lesson.models.baselines import BaselineGenerator, matching_ngf
from spade_lesson.models.discriminator import MultiscaleDiscriminator, NLayerDiscriminator
from spade_lesson.models.encoder import ConvEncoder, reparameterize
from spade_lesson.models.generator import SPADEGenerator, SPADEResnetBlock
from spade_lesson.models.variants import VARIANTS, build_variant

__all__ = ["VARIANTS", "BaselineGenerator", "ConvEncoder", "MultiscaleDiscriminator", "NLayerDiscriminator",
           "SPADEGenerator", "SPADEResnetBlock", "build_variant", "matching_ngf", "reparameterize"]

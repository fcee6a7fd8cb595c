"""The paper's layers: normalization from scratch (norms), SPADE and CLADE, the networks' input m (semantic_input),
one-hot convolutions as lookups (onehot), the official initialization, the small conv + norm blocks, and counting
(parameters, matching widths, multiply-adds)."""

from spade_lesson.layers.blocks import conv_norm, maybe_spectral, norm_layer
from spade_lesson.layers.clade import CLADE
from spade_lesson.layers.counting import closest_width, conv_macs, count_parameters
from spade_lesson.layers.initialization import check_init, init_weights
from spade_lesson.layers.norms import BatchNorm2d, batch_norm, group_norm, instance_norm, layer_norm, normalize
from spade_lesson.layers.onehot import OneHotConv2d, SegMap
from spade_lesson.layers.semantic_input import semantic_input, semantic_nc
from spade_lesson.layers.spade import SPADE

__all__ = ["BatchNorm2d", "CLADE", "OneHotConv2d", "SPADE", "SegMap", "batch_norm", "check_init", "closest_width",
           "conv_macs", "conv_norm", "count_parameters", "group_norm", "init_weights", "instance_norm", "layer_norm",
           "maybe_spectral", "norm_layer", "normalize", "semantic_input", "semantic_nc"]

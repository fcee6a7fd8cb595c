"""Official NVlabs/SPADE checkpoints in this package's networks: options and strict loading.

`read_options(path)`: an official opt.txt ("name: value [default: ...]" lines) -> dict of typed values.
`network_arguments(kind, options)`: official options -> the constructor arguments of our G, D or E.
`load(kind, state_dict, options)`: our G ("G"), D ("D") or E ("E") with an official state dict (or .pth path) loaded
strictly, in eval mode; options is a dict of official option names (missing ones take the official defaults) or the
path of an opt.txt.
Running one on label maps (`spade-lesson sample --opt opt.txt ...`) is spade_lesson.checkpoints.sampling.
"""

from __future__ import annotations

import ast
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spade_lesson.layers.semantic_input import semantic_nc
from spade_lesson.models.discriminator import MultiscaleDiscriminator
from spade_lesson.models.encoder import ConvEncoder
from spade_lesson.models.generator import SPADEGenerator

# The official defaults (options/base_options.py, train_options.py, and the SPADE generator's and the
# discriminators' modify_commandline_options) for every option these networks read.
OFFICIAL_DEFAULTS: dict[str, Any] = {
    "label_nc": 182,
    "contain_dontcare_label": False,
    "no_instance": False,
    "output_nc": 3,
    "ngf": 64,
    "ndf": 64,
    "z_dim": 256,
    "crop_size": 512,
    "aspect_ratio": 1.0,
    "num_upsampling_layers": "normal",
    "norm_G": "spectralspadesyncbatch3x3",
    "norm_D": "spectralinstance",
    "norm_E": "spectralinstance",
    "use_vae": False,
    "netG": "spade",
    "netD": "multiscale",
    "netD_subarch": "n_layer",
    "num_D": 2,
    "n_layers_D": 4,
    "no_ganFeat_loss": False,
}
KINDS = ("G", "D", "E")
# the largest value each size option may take before anything is built (the official ones are 182, 3, 64, 64, 256,
# 1024, 2, 4 at most); within these, load() still compares the network's size with the checkpoint's before building
LIMITS = {"label_nc": 4096, "output_nc": 4, "ngf": 1024, "ndf": 1024, "z_dim": 4096, "crop_size": 4096, "num_D": 8,
          "n_layers_D": 10}
TEXT_OPTIONS = ("num_upsampling_layers", "norm_G", "norm_D", "norm_E", "netG", "netD", "netD_subarch")
MAX_ASPECT = 8.0  # width / height between 1/8 and 8
MAX_OPT_BYTES = 2**20  # an opt.txt is a few kB
NONSPADE_NORMS = {"instance": "instance", "batch": "batch", "sync_batch": "syncbatch", "none": "none", "": "none"}


def _parse_value(text: str) -> Any:
    """An opt.txt value as Python: True/False/None, int, float, a literal list, else the string itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def read_options(path: str | os.PathLike) -> dict[str, Any]:
    """Parse an official opt.txt (lines "name: value<TAB>[default: d]") into {name: typed value}."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"options file {path} not found: pass the opt.txt saved beside the official checkpoint")
    try:
        if path.stat().st_size > MAX_OPT_BYTES:
            raise UnicodeError
        text = path.read_text(encoding="utf-8")
    except UnicodeError:
        raise ValueError(f"--opt {path}: not a text file of options (a checkpoint?): pass the opt.txt saved beside "
                         "the official latest_net_G.pth") from None
    options: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = re.sub(r"\s*\[default: .*\]\s*$", "", line).strip()
        if not line or line.startswith("---"):
            continue
        name, separator, value = line.partition(":")
        if not separator or not name.strip().isidentifier():
            raise ValueError(f"{path}, line {number}: expected 'name: value', got {line!r}: "
                             "is this an official opt.txt?")
        options[name.strip()] = _parse_value(value.strip())
    return options


def resolve_options(options: Mapping[str, Any] | str | os.PathLike) -> dict[str, Any]:
    """Official options (dict or opt.txt path) with official defaults filled in and semantic_nc derived."""
    if not isinstance(options, (Mapping, str, os.PathLike)):
        raise ValueError(f"official options are a {type(options).__name__}: pass a dict of official option names or "
                         "the path of an opt.txt")
    given = read_options(options) if isinstance(options, (str, os.PathLike)) else dict(options)
    merged = {**OFFICIAL_DEFAULTS, **{key: given[key] for key in OFFICIAL_DEFAULTS if key in given}}
    for name, limit in LIMITS.items():
        if isinstance(merged[name], bool) or not isinstance(merged[name], int) or not 1 <= merged[name] <= limit:
            raise ValueError(f"official option {name}={merged[name]!r} must be an integer from 1 to {limit} (the "
                             f"official default is {OFFICIAL_DEFAULTS[name]}): check the opt.txt")
    for name in TEXT_OPTIONS:
        if not isinstance(merged[name], str):
            raise ValueError(f"official option {name}={merged[name]!r} must be a name such as "
                             f"{OFFICIAL_DEFAULTS[name]!r}: check the opt.txt")
    for name in ("contain_dontcare_label", "no_instance", "use_vae", "no_ganFeat_loss"):
        if not isinstance(merged[name], bool):
            raise ValueError(f"official option {name}={merged[name]!r} must be True or False")
    aspect_ratio = merged["aspect_ratio"]
    try:
        merged["aspect_ratio"] = math.nan if isinstance(aspect_ratio, bool) else float(aspect_ratio)
    except (TypeError, ValueError):
        merged["aspect_ratio"] = math.nan
    if not (math.isfinite(merged["aspect_ratio"]) and 1 / MAX_ASPECT <= merged["aspect_ratio"] <= MAX_ASPECT):
        raise ValueError(f"official option aspect_ratio={aspect_ratio!r} must be a positive number (width / height, "
                         f"e.g. 1.0 or 2.0, between 1/{MAX_ASPECT:g} and {MAX_ASPECT:g})")
    merged["semantic_nc"] = semantic_nc(merged["label_nc"], merged["contain_dontcare_label"], merged["no_instance"])
    return merged


def parse_norm_G(norm_G: str) -> dict[str, Any]:
    """An official SPADE norm_G such as "spectralspadesyncbatch3x3" -> spectral, param_free_norm, kernel_size."""
    match = re.fullmatch(r"(spectral)?spade(batch|instance|syncbatch)(\d)x(\d)", norm_G)
    if match is None or match.group(3) != match.group(4):
        raise ValueError(f"norm_G={norm_G!r} is not a SPADE norm: expected [spectral]spade<batch|instance|syncbatch>"
                         "<k>x<k>, e.g. spectralspadesyncbatch3x3")
    return {"spectral": match.group(1) is not None, "param_free_norm": match.group(2),
            "kernel_size": int(match.group(3))}


def parse_nonspade_norm(norm: str, option: str) -> dict[str, Any]:
    """An official norm_D / norm_E such as "spectralinstance" -> spectral, norm (instance/batch/syncbatch/none)."""
    spectral = norm.startswith("spectral")
    rest = norm[len("spectral"):] if spectral else norm
    if rest not in NONSPADE_NORMS:
        raise ValueError(f"{option}={norm!r} is not known: expected [spectral]<instance|batch|sync_batch|none>, "
                         "e.g. spectralinstance")
    return {"spectral": spectral, "norm": NONSPADE_NORMS[rest]}


def network_arguments(kind: str, options: Mapping[str, Any] | str | os.PathLike) -> dict[str, Any]:
    """The keyword arguments of SPADEGenerator ("G"), MultiscaleDiscriminator ("D") or ConvEncoder ("E")."""
    opt = resolve_options(options)
    if kind == "G":
        if opt["netG"] != "spade":
            raise ValueError(f"netG={opt['netG']!r}: only the official SPADE generator (netG spade) can be loaded")
        return {"semantic_nc": opt["semantic_nc"], "ngf": opt["ngf"],
                "num_upsampling_layers": opt["num_upsampling_layers"], "crop_size": opt["crop_size"],
                "aspect_ratio": opt["aspect_ratio"], "use_vae": opt["use_vae"], "z_dim": opt["z_dim"],
                **parse_norm_G(opt["norm_G"])}
    if kind == "D":
        if opt["netD"] != "multiscale" or opt["netD_subarch"] != "n_layer":
            raise ValueError(f"netD={opt['netD']!r}, netD_subarch={opt['netD_subarch']!r}: only the official "
                             "multiscale n_layer discriminator can be loaded")
        # D sees torch.cat([semantic, image]): label_nc + output_nc (+ dontcare + instance) channels
        return {"in_channels": opt["semantic_nc"] + opt["output_nc"], "num_D": opt["num_D"],
                "n_layers_D": opt["n_layers_D"], "ndf": opt["ndf"],
                "get_intermediate_features": not opt["no_ganFeat_loss"], **parse_nonspade_norm(opt["norm_D"], "norm_D")}
    if kind == "E":
        return {"ngf": opt["ngf"], "z_dim": opt["z_dim"], **parse_nonspade_norm(opt["norm_E"], "norm_E")}
    raise ValueError(f"kind={kind!r} is not known: use one of {', '.join(KINDS)} (generator, discriminator, encoder)")


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load an official checkpoint file (e.g. latest_net_G.pth) as a state dict on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found: pass the official latest_net_G.pth "
                                "(or net_D / net_E) file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a truncated or foreign file
        raise ValueError(f"checkpoint {path} could not be read ({type(error).__name__}): the file is corrupt or "
                         "not a PyTorch state dict; download it again") from error
    if not isinstance(state, Mapping) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError(f"checkpoint {path} holds a {type(state).__name__}, not a state dict of tensors: "
                         "pass the official latest_net_G.pth")
    return dict(state)


def _describe(keys: list[str]) -> str:
    """At most five keys, then how many more."""
    shown = ", ".join(keys[:5])
    return shown + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")


def load(kind: str, state_dict: Mapping[str, torch.Tensor] | str | os.PathLike,
         options: Mapping[str, Any] | str | os.PathLike) -> nn.Module:
    """Our G / D / E built from official options, an official state dict (or .pth path) loaded strictly, eval mode."""
    arguments = network_arguments(kind, options)
    build = {"G": SPADEGenerator, "D": MultiscaleDiscriminator, "E": ConvEncoder}[kind]
    state = read_checkpoint(state_dict) if isinstance(state_dict, (str, os.PathLike)) else dict(state_dict)
    with torch.device("meta"):  # its size first, allocating nothing: options in the billions never reach memory
        wanted = sum(param.numel() for param in build(**arguments).parameters())
    held = sum(value.numel() for value in state.values() if isinstance(value, torch.Tensor))
    if wanted > held:
        raise ValueError(f"the options describe an official {kind} of {wanted} parameters but the checkpoint holds "
                         f"{held} values: check that the opt.txt belongs to this checkpoint (ngf, label_nc, crop_size, "
                         "z_dim, ...)")
    network = build(**arguments)
    if state and all(key.startswith("module.") for key in state):
        state = {key[len("module."):]: value for key, value in state.items()}  # saved from inside DataParallel
    try:
        result = network.load_state_dict(state, strict=False)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[-1].strip()
        raise ValueError(f"official {kind} state dict does not fit the options ({first}): check that the opt.txt "
                         "belongs to this checkpoint (ngf, label_nc, crop_size, num_upsampling_layers, ...)") from error
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(f"official {kind} state dict does not match the network the options describe: "
                         f"missing keys [{_describe(result.missing_keys)}], "
                         f"unexpected keys [{_describe(result.unexpected_keys)}]; "
                         "check that the opt.txt belongs to this checkpoint")
    return network.eval()

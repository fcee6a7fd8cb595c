"""Synthesis from label-map PNGs (the `spade-lesson sample` job): a generator run on each map, in one style or several.

`load_synthesizer(checkpoint, opt=None, encoder=None)`: the generator (and style encoder) of a spade-lesson checkpoint
(checkpoint.pt of a run, or the shipped one), or, with `opt`, of an official NVlabs/SPADE latest_net_G.pth (and
latest_net_E.pth as `encoder`), with how it reads label maps (classes, don't-care channel, instance edges).
`sample(checkpoint, labels, out, ...)`: writes <out>/<label stem>.png for every label map; with `style` (an image) in
that image's style (the encoder's mean code for it: the paper's style-guided synthesis, Sec. 3.3 and Fig. 1), with
`styles=N` in N random styles z ~ N(0, I), the same N for every map, as <stem>_style<k>.png.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch import nn

from spade_lesson.data.decode import read_ids
from spade_lesson.data.folder import read_image
from spade_lesson.data.palette import to_uint8
from spade_lesson.data.pictures import write_png
from spade_lesson.layers.semantic_input import input_options, semantic_input
from spade_lesson.runtime.atomic import check_folder
from spade_lesson.runtime.machine import pick_device, seed_everything


class Synthesizer(NamedTuple):
    """A generator, its style encoder (None without one), and how its input is built from a label map."""

    generator: nn.Module
    encoder: nn.Module | None
    label_nc: int
    contain_dontcare_label: bool
    no_instance: bool


def load_synthesizer(checkpoint: str | os.PathLike, opt: str | os.PathLike | None = None,
                     encoder: str | os.PathLike | None = None) -> Synthesizer:
    """A spade-lesson checkpoint (no opt), or an official latest_net_G.pth with its opt.txt (and latest_net_E.pth)."""
    if opt is None:
        from spade_lesson.checkpoints import load_networks

        if encoder is not None:
            raise ValueError("--encoder is for official checkpoints (with --opt): a spade-lesson checkpoint holds its "
                             "own encoder")
        nets = load_networks(checkpoint)
        options = input_options(nets.config)
        dontcare, no_instance = options["contain_dontcare_label"], options["no_instance"]
        label_nc = nets.generator.semantic_nc - int(dontcare) - int(not no_instance)
        return Synthesizer(nets.generator, nets.encoder, label_nc, dontcare, no_instance)
    from spade_lesson.models import official

    options = official.resolve_options(opt)
    generator = official.load("G", checkpoint, options)
    style_encoder = None if encoder is None else official.load("E", encoder, options)
    return Synthesizer(generator, style_encoder, options["label_nc"], options["contain_dontcare_label"],
                       options["no_instance"])


MAX_STYLES = 1000  # random styles per map: each is a PNG per label map


def read_label_png(path: Path, size: tuple[int, int], partner: Path | None = None) -> torch.Tensor:
    """A single-channel PNG of ids -> LongTensor (H, W) resized to size = (H, W) with nearest; a file that does not
    decode (empty, truncated, a decompression bomb, a colour picture) is one line naming it (data.decode.read_ids).
    partner: the label map an instance map belongs to; the two must have the same size (as the loaders require)."""
    what = "label map" if partner is None else "instance map"
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found")
    ids, _ = read_ids(path, what)
    if partner is not None:
        with Image.open(partner) as label:
            if label.size != (ids.shape[1], ids.shape[0]):
                raise ValueError(f"instance map {path} is {ids.shape[1]}x{ids.shape[0]} but its label map {partner} "
                                 f"is {label.size[0]}x{label.size[1]}: give each label map its own instance map")
    resized = Image.fromarray(ids).resize((size[1], size[0]), resample=Image.Resampling.NEAREST)
    return torch.from_numpy(np.array(resized).astype(np.int64))


def read_style_image(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """An image file -> (1, 3, H, W) in [-1, 1] at size = (H, W) (bicubic, as the datasets load images)."""
    if not path.is_file():
        raise FileNotFoundError(f"style image {path} not found")
    image = read_image(path).resize((size[1], size[0]), Image.Resampling.BICUBIC)
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0)  # [0, 255] -> [-1, 1]
    return pixels.permute(2, 0, 1)[None].contiguous()


def style_codes(synthesizer: Synthesizer, style: str | os.PathLike | None, styles: int | None,
                device: torch.device, seed: int) -> list[tuple[str, torch.Tensor | None]]:
    """(file-name suffix, z (1, z_dim) or None) for each image to draw per map."""
    if style is None and styles is None:
        return [("", None)]  # the generator's own choice: z ~ N(0, I) for VAE models, nothing otherwise
    if style is not None and styles is not None:
        raise ValueError("--style and --styles both given: draw in one image's style or in N random styles")
    if synthesizer.encoder is None:
        what = "--style IMAGE" if style is not None else "--styles N"
        raise ValueError(f"{what} needs a model trained with the style encoder (use_vae / --vae); this checkpoint has "
                         "none (an official one: pass its latest_net_E.pth as --encoder)")
    if style is not None:
        image = read_style_image(Path(style), synthesizer.generator.output_size).to(device)
        with torch.no_grad():
            mu, _ = synthesizer.encoder(image)  # the mean of q(z | image): that image's style
        return [("", mu)]
    if styles < 1:
        raise ValueError(f"--styles {styles}: draw at least 1 style per map")
    codes = torch.randn(styles, synthesizer.generator.z_dim, generator=torch.Generator().manual_seed(seed))
    return [(f"_style{k}", code[None].to(device)) for k, code in enumerate(codes)]  # z ~ N(0, I)


def check_targets(targets: list[Path], inputs: list[str | os.PathLike | None], overwrite: bool) -> None:
    """Refuse (one line) to write over an input, ever, or over an existing file unless overwrite."""
    given = {Path(path).resolve(): Path(path) for path in inputs if path is not None}
    for target in targets:
        if target.resolve() in given:
            raise ValueError(f"--out {target.parent} would write {target} over the input {given[target.resolve()]}: "
                             "pick another --out")
    existing = [target for target in targets if target.exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise ValueError(f"{existing[0]}{more} exists: pass --overwrite to replace it, or pick another --out")


def sample(checkpoint: str | os.PathLike, labels: list[str | os.PathLike], out: str | os.PathLike,
           opt: str | os.PathLike | None = None, encoder: str | os.PathLike | None = None,
           instances: list[str | os.PathLike] | None = None, style: str | os.PathLike | None = None,
           styles: int | None = None, device: str = "cpu", seed: int = 0, overwrite: bool = False) -> list[Path]:
    """Draw every label map (with the checkpoint, see load_synthesizer) once, in `style`'s style, or in `styles`
    random styles; writes and returns the PNGs <out>/<stem>[_style<k>].png.

    Nothing is written unless every input reads; an input is never written over, an existing output only with
    overwrite=True (--overwrite).
    """
    if styles is not None and not 1 <= styles <= MAX_STYLES:
        raise ValueError(f"--styles {styles}: draw 1 to {MAX_STYLES} styles per map (each is one PNG per map)")
    labels = [Path(path) for path in labels]
    instances = [Path(path) for path in instances] if instances else [None] * len(labels)
    if len(instances) != len(labels):
        raise ValueError(f"--instances has {len(instances)} files for {len(labels)} --labels: give one per label map")
    stems = [path.stem for path in labels]
    if len(set(stems)) != len(stems):
        raise ValueError("--labels holds two files with the same name: outputs are named after them, rename one")
    out = Path(out)
    suffixes = [""] if styles is None else [f"_style{k}" for k in range(styles)]
    targets = [out / f"{stem}{suffix}.png" for stem in stems for suffix in suffixes]
    check_targets(targets, [checkpoint, opt, encoder, style, *labels, *instances], overwrite)
    synthesizer = load_synthesizer(checkpoint, opt, encoder)
    device = pick_device(device)
    generator = synthesizer.generator.to(device)
    if synthesizer.encoder is not None:
        synthesizer.encoder.to(device)
    seed_everything(seed)
    codes = style_codes(synthesizer, style, styles, device, seed)
    maps = [(read_label_png(label, generator.output_size)[None],
             None if instance is None else read_label_png(instance, generator.output_size, label)[None])
            for label, instance in zip(labels, instances)]  # every input read before anything is written
    check_folder(out)
    written = []
    for label_path, (label, instance) in zip(labels, maps):
        try:
            semantic = semantic_input(label, synthesizer.label_nc, synthesizer.contain_dontcare_label,
                                      synthesizer.no_instance, instance)
        except ValueError as error:
            raise ValueError(f"label map {label_path}: {error}") from error
        for suffix, z in codes:
            with torch.no_grad():
                fake = generator(semantic.to(device), z)
            target = out / f"{label_path.stem}{suffix}.png"
            write_png(to_uint8(fake[0]), target)
            written.append(target)
    return written

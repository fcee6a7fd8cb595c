"""Pretrained weights (VGG19 for the perceptual loss, Inception-v3 for FID), read so that no file can run code.

A weight file lives in the torch hub cache, `$TORCH_HOME/hub/checkpoints/<name>-<hash>.pth`, and is downloaded there
when missing (torch writes a temporary file and moves it into place only when the hash matches). Its published hash is
checked before anything reads it: the files name themselves with the first hex digits of their SHA-256 (torchvision's
and pytorch-fid's convention; no full digest is published for these files, so the prefix is what can be checked).
Only then is it read, with `torch.load(weights_only=True)`, which builds tensors and plain containers and never runs
pickled code. A file that is missing and cannot be downloaded, fails its checksum, is not a state dict of tensors or
does not fit the network gives one printed line, and the caller carries on without that loss or metric.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import socket
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

DOWNLOAD_TIMEOUT_S = 10.0  # an unreachable server fails in seconds, not minutes
HASH_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class PretrainedFile:
    """A published weight file: what it is (label), where it comes from (url, named `<name>-<sha256 prefix>.pth`)."""

    label: str
    url: str

    @property
    def file_name(self) -> str:
        """The file's name, the last part of its URL."""
        return self.url.rsplit("/", 1)[-1]

    @property
    def hash_prefix(self) -> str:
        """The leading hex digits of the file's SHA-256, as its name gives them (vgg19-dcbb9e9d.pth -> dcbb9e9d)."""
        match = torch.hub.HASH_REGEX.search(self.file_name)
        if match is None or len(match.group(1)) < 8:
            raise ValueError(f"{self.file_name} does not name its SHA-256 as <name>-<8+ hex digits>.<ext>")
        return match.group(1)

    @property
    def path(self) -> Path:
        """Where the file is cached: $TORCH_HOME/hub/checkpoints/<file_name> (read at each call)."""
        return Path(torch.hub.get_dir()) / "checkpoints" / self.file_name


VGG19 = PretrainedFile("VGG19", "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth")
INCEPTION_TORCHVISION = PretrainedFile(
    "Inception-v3 (torchvision)", "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth")
INCEPTION_STANDARD = PretrainedFile(  # TensorFlow's FID Inception ported by pytorch-fid, behind published FIDs
    "Inception-v3 (pt_inception, pytorch-fid)",
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth")


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _reason(error: BaseException) -> str:
    """An exception as 'Type: first line of its message'."""
    message = str(error).splitlines()[0] if str(error) else "no detail"
    return f"{type(error).__name__}: {message}"


def _download(weights: PretrainedFile) -> str:
    """Fetch the file into the cache (hash checked by torch before it is moved into place); '' or why it failed."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        weights.path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(weights.url, str(weights.path), hash_prefix=weights.hash_prefix, progress=False)
    except Exception as error:  # no internet, proxy refusal, a read-only cache, a wrong hash: all mean "without it"
        return f"are not at {weights.path} and could not be downloaded ({_reason(error)})"
    finally:
        socket.setdefaulttimeout(previous)
    return ""


@functools.cache
def _read(weights: PretrainedFile) -> tuple[dict[str, torch.Tensor] | None, str]:
    """The checked state dict, or None and what is wrong (remembered: one attempt per file and process)."""
    if not weights.path.is_file():
        problem = _download(weights)
        if problem:
            return None, problem
    fix = f"at {weights.path}"
    if not sha256_of(weights.path).startswith(weights.hash_prefix):  # before any byte is unpickled
        return None, f"{fix} failed their checksum; delete it to re-download"
    try:
        with warnings.catch_warnings():  # a refused file is one line, not also torch's warnings about its pickle
            warnings.simplefilter("ignore")
            state = torch.load(weights.path, map_location="cpu", weights_only=True)  # tensors only, never pickled code
    except pickle.UnpicklingError:  # torch's own message suggests weights_only=False: not advice to pass on
        return None, f"{fix} are not a state dict (they hold pickled objects, refused unrun); delete it to re-download"
    except Exception as error:
        return None, f"{fix} are not a state dict ({_reason(error)}); delete it to re-download"
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        return None, f"{fix} are not a state dict (a {type(state).__name__}); delete it to re-download"
    return state, ""


def load_pretrained(weights: PretrainedFile, build: Callable[[dict[str, torch.Tensor]], nn.Module],
                    without: str) -> nn.Module | None:
    """build(state) with the checked weights, frozen in eval mode; None after one printed line `<label> weights ...,
    <without>` when they cannot be had or do not fit (without: what the run does instead, e.g. 'FID skipped')."""
    state, problem = _read(weights)
    if state is not None:
        try:
            return build(state).eval().requires_grad_(False)
        except (RuntimeError, KeyError, ValueError) as error:  # load_state_dict's missing/unexpected keys or shapes
            problem = f"at {weights.path} do not fit the network ({_reason(error)}); delete it to re-download"
    print(f"{weights.label} weights {problem}, {without}", file=sys.stderr)
    return None

"""spade_lesson.runtime.pretrained: weight files are hash-checked, read with weights_only, and every failure is one
line."""

from __future__ import annotations

import hashlib
import pickle
import urllib.error
from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision.models import Inception_V3_Weights, VGG19_Weights

from spade_lesson.runtime import pretrained
from spade_lesson.runtime.pretrained import (
    INCEPTION_STANDARD,
    INCEPTION_TORCHVISION,
    VGG19,
    PretrainedFile,
    load_pretrained,
)
from spade_lesson.training import losses

VGG_WITHOUT = "training continues without the VGG loss"


class CodeThatRuns:
    """A pickle payload: unpickling it calls open(marker, "w"), which creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return open, (str(self.marker), "w")


@pytest.fixture(autouse=True)
def download_attempts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str | None]]:
    """An empty TORCH_HOME, no network (a download fails as offline; its (url, dst, hash_prefix) are recorded here),
    no remembered reads."""
    attempts = []

    def offline(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        attempts.append((url, dst, hash_prefix))
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    pretrained._read.cache_clear()
    yield attempts
    pretrained._read.cache_clear()


def _named_after_its_hash(directory: Path, stem: str, payload: bytes) -> PretrainedFile:
    """A PretrainedFile whose name carries the payload's own SHA-256 prefix, with the payload in its cache path."""
    weights = PretrainedFile(stem, f"https://example.invalid/{stem}-{hashlib.sha256(payload).hexdigest()[:10]}.pth")
    weights.path.parent.mkdir(parents=True, exist_ok=True)
    weights.path.write_bytes(payload)
    return weights


def _saved(obj: object, tmp_path: Path) -> bytes:
    """The bytes torch.save writes for obj."""
    torch.save(obj, tmp_path / "saved.pt")
    return (tmp_path / "saved.pt").read_bytes()


def test_the_files_are_the_published_ones() -> None:
    assert VGG19.url == VGG19_Weights.IMAGENET1K_V1.url and VGG19.hash_prefix == "dcbb9e9d"
    assert INCEPTION_TORCHVISION.url == Inception_V3_Weights.IMAGENET1K_V1.url
    assert INCEPTION_TORCHVISION.hash_prefix == "0cc3c7bd" and INCEPTION_STANDARD.hash_prefix == "6726825d"
    with pytest.raises(ValueError, match="does not name its SHA-256"):
        _ = PretrainedFile("x", "https://example.invalid/weights.pth").hash_prefix


def test_the_payload_really_runs_code_when_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(CodeThatRuns(marker)))  # the control: plain unpickling runs it
    assert marker.exists()


def test_a_pickle_planted_at_the_vgg_cache_path_never_runs(tmp_path: Path, capsys, download_attempts) -> None:
    marker = tmp_path / "marker"
    VGG19.path.parent.mkdir(parents=True)
    VGG19.path.write_bytes(pickle.dumps(CodeThatRuns(marker)))
    assert losses.load_vgg19_features() is None
    assert not marker.exists() and download_attempts == []  # the cached file is judged, not replaced
    assert capsys.readouterr().err == (f"VGG19 weights at {VGG19.path} failed their checksum; delete it to "
                                       f"re-download, {VGG_WITHOUT}\n")


def test_a_planted_pickle_with_a_matching_hash_is_still_never_run(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "marker"
    weights = _named_after_its_hash(tmp_path / "cache", "planted", pickle.dumps(CodeThatRuns(marker)))
    assert load_pretrained(weights, lambda state: nn.Identity(), without="FID skipped") is None
    assert not marker.exists()
    assert capsys.readouterr().err == (f"planted weights at {weights.path} are not a state dict (they hold pickled "
                                       "objects, refused unrun); delete it to re-download, FID skipped\n")


def test_a_wrong_hash_file_gives_one_line(tmp_path: Path, capsys) -> None:
    VGG19.path.parent.mkdir(parents=True)
    VGG19.path.write_bytes(_saved({"features.0.weight": torch.zeros(64, 3, 3, 3)}, tmp_path))  # loads, not published
    assert losses.load_vgg19_features() is None
    assert capsys.readouterr().err == (f"VGG19 weights at {VGG19.path} failed their checksum; delete it to "
                                       f"re-download, {VGG_WITHOUT}\n")


@pytest.mark.parametrize("content", [[torch.zeros(2)], {"weight": [1, 2]}, {3: torch.zeros(1)}])
def test_a_file_that_is_not_a_state_dict_gives_one_line(content: object, tmp_path: Path, capsys) -> None:
    weights = _named_after_its_hash(tmp_path / "cache", "odd", _saved(content, tmp_path))
    assert load_pretrained(weights, lambda state: nn.Identity(), without=VGG_WITHOUT) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"weights at {weights.path} are not a state dict" in err
    assert err.endswith(f"delete it to re-download, {VGG_WITHOUT}\n")


def test_missing_weights_are_one_download_attempt_then_one_line_each_call(monkeypatch, capsys,
                                                                         download_attempts) -> None:
    timeouts = []
    offline = torch.hub.download_url_to_file

    def record_timeout(*args, **kwargs) -> None:
        import socket

        timeouts.append(socket.getdefaulttimeout())
        offline(*args, **kwargs)

    monkeypatch.setattr(torch.hub, "download_url_to_file", record_timeout)
    assert losses.load_vgg19_features() is None
    assert losses.load_vgg19_features() is None  # the failure is remembered: no second attempt
    assert timeouts == [pretrained.DOWNLOAD_TIMEOUT_S]
    assert download_attempts == [(VGG19.url, str(VGG19.path), "dcbb9e9d")]  # torch checks the hash too
    err = capsys.readouterr().err.splitlines()
    assert err == [f"VGG19 weights are not at {VGG19.path} and could not be downloaded (URLError: <urlopen error "
                   f"Name or service not known>), {VGG_WITHOUT}"] * 2


def test_checked_weights_build_a_frozen_network_and_a_mismatch_is_one_line(tmp_path: Path, capsys) -> None:
    layer = nn.Linear(3, 2)
    weights = _named_after_its_hash(tmp_path / "cache", "linear", _saved(layer.state_dict(), tmp_path))

    def build(state: dict[str, torch.Tensor]) -> nn.Module:
        model = nn.Linear(3, 2)
        model.load_state_dict(state)
        return model.train()

    model = load_pretrained(weights, build, without="FID skipped")
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert torch.equal(model.weight, layer.weight)

    def wrong_shape(state: dict[str, torch.Tensor]) -> nn.Module:
        model = nn.Linear(4, 2)
        model.load_state_dict(state)
        return model

    assert load_pretrained(weights, wrong_shape, without="FID skipped") is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"weights at {weights.path} do not fit the network (RuntimeError: " in err


def test_a_download_lands_in_the_cache_and_is_read(tmp_path: Path, monkeypatch) -> None:
    payload = _saved(nn.Linear(3, 2).state_dict(), tmp_path)
    weights = PretrainedFile("fetched", f"https://example.invalid/fetched-{hashlib.sha256(payload).hexdigest()[:8]}.pt")
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda url, dst, hash_prefix=None, progress=True: Path(dst).write_bytes(payload))
    state, problem = pretrained._read(weights)
    assert problem == "" and set(state) == {"weight", "bias"} and weights.path.read_bytes() == payload

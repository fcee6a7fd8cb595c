"""spade_lesson.evaluation.segmenter: the U-Net learns label maps, its cache, and the scoring protocol."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spade_lesson.data import Landscapes, one_hot
from spade_lesson.evaluation import segmenter as seg
from spade_lesson.evaluation.metrics import confusion_matrix, miou, pixel_accuracy
from spade_lesson.evaluation.segmenter import UNet, ceiling, evaluate, load_segmenter, segment, train_segmenter

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def maps() -> Landscapes:
    return Landscapes(size=32, length=2, seed=5)


def test_unet_keeps_the_resolution_and_refuses_sizes_it_cannot_halve() -> None:
    net = UNet(3, num_classes=5, width=4, depth=2)
    assert net(torch.zeros(2, 3, 16, 24)).shape == (2, 5, 16, 24)
    with pytest.raises(ValueError, match="multiples of 2\\*\\*depth = 4"):
        net(torch.zeros(1, 3, 18, 16))


@pytest.mark.slow
def test_a_tiny_unet_overfits_two_label_maps(maps: Landscapes) -> None:
    net = train_segmenter(maps, steps=100, batch_size=4, width=8, depth=2, lr=1e-2, cache_dir=None, progress=False)
    scores = ceiling(maps, net)
    assert scores["pixel_acc"] > 0.95, scores
    assert scores["miou"] > 0.7, scores


def test_the_segmenter_is_cached_by_its_settings(maps: Landscapes, tmp_path, monkeypatch) -> None:
    first = train_segmenter(maps, steps=2, batch_size=2, width=4, depth=2, cache_dir=tmp_path, progress=False)
    files = list(tmp_path.glob("segmenter-*.pt"))
    assert len(files) == 1 and not list(tmp_path.glob(".*.tmp"))

    def refuse(*args, **kwargs):
        raise AssertionError("a cached segmenter was trained again")

    monkeypatch.setattr(seg, "fit", refuse)
    again = train_segmenter(maps, steps=2, batch_size=2, width=4, depth=2, cache_dir=tmp_path, progress=False)
    for a, b in zip(first.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert not again.training
    with pytest.raises(AssertionError, match="trained again"):  # other settings, other checkpoint
        train_segmenter(maps, steps=3, batch_size=2, width=4, depth=2, cache_dir=tmp_path, progress=False)


class Items:
    """A dataset of given items (dicts of "label" and "image")."""

    def __init__(self, items: list[dict[str, torch.Tensor]]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.items[index]


def test_the_data_fingerprint_ignores_float_rounding_and_sees_a_changed_pixel(maps: Landscapes) -> None:
    items = [maps[0], maps[1]]
    key = seg.dataset_fingerprint(Items(items))
    assert key == seg.dataset_fingerprint(maps)
    ulps = [{"label": item["label"], "image": torch.nextafter(item["image"], torch.full_like(item["image"], 2.0))}
            for item in items]  # every pixel one float step up: another CPU's rounding
    assert seg.dataset_fingerprint(Items(ulps)) == key
    brighter = [items[0], {"label": items[1]["label"], "image": items[1]["image"].clone()}]
    brighter[1]["image"][0, 0, 0] += 0.05  # one pixel a visible step brighter
    relabelled = [items[0], {"label": items[1]["label"].clone(), "image": items[1]["image"]}]
    relabelled[1]["label"][0, 0] = (relabelled[1]["label"][0, 0] + 1) % maps.num_classes
    assert len({key, seg.dataset_fingerprint(Items(brighter)), seg.dataset_fingerprint(Items(relabelled))}) == 3


def test_a_broken_checkpoint_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "segmenter-bad.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable segmenter checkpoint"):
        load_segmenter(path)
    with pytest.raises(FileNotFoundError, match="no segmenter there"):
        load_segmenter(tmp_path / "missing.pt")


class Painter(nn.Module):
    """A stand-in generator: a fixed random 1x1 conv of the one-hot map (each class gets one colour)."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(classes, 3, kernel_size=1)

    def forward(self, semantic: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(semantic))


def test_evaluate_scores_the_generated_images_against_the_input_maps(maps: Landscapes) -> None:
    torch.manual_seed(1)
    net = UNet(3, maps.num_classes, width=4, depth=2).eval()
    painter = Painter(maps.num_classes).train()
    labels = torch.stack([maps[i]["label"] for i in range(2)])
    with torch.no_grad():
        pred = segment(net, painter(one_hot(labels, maps.num_classes)))
    conf = confusion_matrix(pred, labels, maps.num_classes)
    scores = evaluate(painter, maps, net, batch_size=1)
    assert scores == {"miou": pytest.approx(miou(conf)), "pixel_acc": pytest.approx(pixel_accuracy(conf))}
    assert painter.training, "evaluate must give the generator back in the mode it had"


def test_scoring_nothing_is_a_clear_error(maps: Landscapes) -> None:
    with pytest.raises(ValueError, match="num_images=0"):
        ceiling(maps, UNet(3, maps.num_classes, width=4, depth=2), num_images=0)


def test_evaluate_builds_the_input_as_training_did(maps: Landscapes) -> None:
    from spade_lesson.layers.semantic_input import semantic_input

    torch.manual_seed(1)
    net = UNet(3, maps.num_classes, width=4, depth=2).eval()
    painter = Painter(maps.num_classes + 2).eval()  # reads the don't-care and edge channels as well
    labels = torch.stack([maps[i]["label"] for i in range(2)])
    with torch.no_grad():
        pred = segment(net, painter(semantic_input(labels, maps.num_classes, True, False)))
    conf = confusion_matrix(pred, labels, maps.num_classes)
    scores = evaluate(painter, maps, net, num_images=2, contain_dontcare_label=True, no_instance=False)
    assert scores["miou"] == pytest.approx(miou(conf))

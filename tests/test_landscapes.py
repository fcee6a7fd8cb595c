"""The offline Landscapes dataset: item format, determinism, variety, plausible scenes, one label map many images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from spade_lesson.data import Landscapes, one_hot
from spade_lesson.data.scene import CLASS_NAMES, MOUNTAIN, SKY, SNOW, WATER


@pytest.fixture(scope="module")
def items() -> list[dict[str, torch.Tensor]]:
    """64 small items, shared by the statistical tests."""
    dataset = Landscapes(size=64, length=64)
    return [dataset[i] for i in range(len(dataset))]


@pytest.mark.parametrize("size", [32, 100, 128, 512])
def test_item_format(size: int) -> None:
    dataset = Landscapes(size=size, length=2)
    item = dataset[1]
    assert set(item) == {"label", "image"}
    assert item["label"].shape == (size, size) and item["label"].dtype == torch.int64
    assert item["image"].shape == (3, size, size) and item["image"].dtype == torch.float32
    assert item["image"].min() >= -1.0 and item["image"].max() <= 1.0
    assert item["label"].min() >= 0 and item["label"].max() < dataset.num_classes


def test_attributes() -> None:
    dataset = Landscapes()
    assert len(dataset) == 256 and dataset.num_classes == len(dataset.class_names) == len(dataset.palette) >= 8
    assert dataset.class_names[:3] == ["sky", "cloud", "mountain"]
    assert len(set(dataset.palette)) == dataset.num_classes, "palette colours must be distinct"
    assert all(len(color) == 3 and all(0 <= c <= 255 for c in color) for color in dataset.palette)


def test_deterministic_in_seed_and_index() -> None:
    first = Landscapes(size=48, seed=5)
    second = Landscapes(size=48, seed=5)
    np.random.seed(1)
    torch.manual_seed(1)
    late = [first[i] for i in (7, 3)]
    np.random.seed(2)
    torch.manual_seed(2)
    early = [second[i] for i in (3, 7)]
    assert torch.equal(late[0]["label"], early[1]["label"]) and torch.equal(late[0]["image"], early[1]["image"])
    assert torch.equal(late[1]["label"], early[0]["label"]) and torch.equal(late[1]["image"], early[0]["image"])


def test_leaves_global_random_state_alone() -> None:
    numpy_state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state()
    Landscapes(size=32)[0]
    assert np.array_equal(np.random.get_state()[1], numpy_state) and torch.equal(torch.get_rng_state(), torch_state)


def test_seeds_and_indices_differ() -> None:
    three, four = Landscapes(size=64, seed=3), Landscapes(size=64, seed=4)
    assert not torch.equal(three[0]["label"], four[0]["label"])
    assert not torch.equal(three[0]["label"], three[1]["label"])


def test_negative_index_and_out_of_range() -> None:
    dataset = Landscapes(size=32, length=4)
    assert torch.equal(dataset[-1]["label"], dataset[3]["label"])
    with pytest.raises(IndexError, match="out of range"):
        dataset[4]


@pytest.mark.parametrize("size", [31, 513, 128.0, True, "128", (64, 64)])
def test_bad_size_is_a_clear_error(size: object) -> None:
    with pytest.raises(ValueError, match="size="):
        Landscapes(size=size)


@pytest.mark.parametrize("arguments", [{"length": 0}, {"seed": -1}, {"seed": 1.5}])
def test_bad_length_or_seed_is_a_clear_error(arguments: dict) -> None:
    with pytest.raises(ValueError, match="Landscapes"):
        Landscapes(**arguments)


def test_every_class_appears_and_scenes_vary_in_complexity(items: list[dict[str, torch.Tensor]]) -> None:
    counts = [len(item["label"].unique()) for item in items]
    present = torch.cat([item["label"].unique() for item in items]).unique()
    assert present.tolist() == list(range(len(CLASS_NAMES)))
    assert min(counts) <= 3 and max(counts) >= 7, counts


def test_sky_above_ground(items: list[dict[str, torch.Tensor]]) -> None:
    top_sky = np.mean([(item["label"][0] == SKY).float().mean().item() for item in items])
    bottom_sky = np.mean([(item["label"][-1] == SKY).float().mean().item() for item in items])
    assert top_sky > 0.6 and bottom_sky == 0.0


def test_water_lies_below_all_sky(items: list[dict[str, torch.Tensor]]) -> None:
    with_water = 0
    for item in items:
        rows_with = [torch.nonzero((item["label"] == c).any(dim=1)).flatten() for c in (SKY, WATER)]
        if len(rows_with[1]):
            with_water += 1
            assert rows_with[0].max() < rows_with[1].min()
    assert with_water >= 10


def test_snow_on_mountains_or_on_the_ground(items: list[dict[str, torch.Tensor]]) -> None:
    for item in items:
        label = item["label"]
        if (label == SNOW).any() and not (label == MOUNTAIN).any():
            assert (label[-1] == SNOW).any(), "snow without a mountain must be snowy ground"


def test_one_label_map_many_images() -> None:
    dataset = Landscapes(size=64)
    looks = [dataset.render(2, style=style) for style in range(4)]
    assert all(torch.equal(look["label"], looks[0]["label"]) for look in looks)
    assert torch.equal(looks[2]["image"], dataset[2]["image"]), "the default style of item i is style i"
    for a in range(4):
        for b in range(a + 1, 4):
            assert (looks[a]["image"] - looks[b]["image"]).abs().mean() > 0.02


def test_night_is_darker_than_day() -> None:
    dataset = Landscapes(size=64)
    for index in range(4):
        day = dataset.render(index, time_of_day="day")["image"].mean()
        night = dataset.render(index, time_of_day="night")["image"].mean()
        assert night < day - 0.3


def test_render_rejects_bad_style_arguments() -> None:
    dataset = Landscapes(size=32)
    with pytest.raises(ValueError, match="time_of_day='noon'"):
        dataset.render(0, time_of_day="noon")
    with pytest.raises(ValueError, match="style=-1"):
        dataset.render(0, style=-1)


def test_batches_feed_one_hot() -> None:
    dataset = Landscapes(size=32, length=4)
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    semantic = one_hot(batch["label"], dataset.num_classes)
    assert batch["image"].shape == (4, 3, 32, 32) and semantic.shape == (4, dataset.num_classes, 32, 32)
    assert torch.equal(semantic.sum(dim=1), torch.ones(4, 32, 32))

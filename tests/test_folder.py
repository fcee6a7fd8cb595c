"""SegmentationFolder and load_dataset: good folders load, every bad input is a one-line error naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hostile import png_claiming, truncated
from PIL import Image
from torch.utils.data import DataLoader

from spade_lesson.data import Landscapes, SegmentationFolder, load_dataset
from spade_lesson.data.errors import DatasetError
from spade_lesson.data.palette import default_palette
from spade_lesson.data.preprocess import Preprocess

NAMES = ["wall", "window", "door"]
PALETTE = [[200, 200, 200], [0, 0, 255], [255, 0, 0]]


def write_pair(folder: Path, stem: str, label: np.ndarray, image_suffix: str = ".jpg") -> None:
    """images/<stem><suffix> (a gradient) and labels/<stem>.png (single-channel ids) in folder."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    height, width = label.shape
    ramp = np.linspace(0, 255, width, dtype=np.uint8)
    gradient = np.stack([np.tile(ramp, (height, 1))] * 3, axis=-1)
    Image.fromarray(gradient).save(folder / "images" / f"{stem}{image_suffix}")
    Image.fromarray(label.astype(np.uint8), mode="L").save(folder / "labels" / f"{stem}.png")


def stripes(height: int = 20, width: int = 30) -> np.ndarray:
    """A label map of three horizontal bands: ids 0, 1, 2."""
    label = np.zeros((height, width), dtype=np.uint8)
    label[height // 3:] = 1
    label[2 * height // 3:] = 2
    return label


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    """<tmp>/facades with dataset.json and a train split of two pairs (one with don't-care pixels)."""
    root = tmp_path / "facades"
    write_pair(root / "train", "a", stripes())
    unsure = stripes()
    unsure[0, :5] = 255
    write_pair(root / "train", "b", unsure, image_suffix=".png")
    meta = {"name": "facades", "class_names": NAMES, "palette": PALETTE, "ignore_index": 255, "source": "test"}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


def one_line_error(error: pytest.ExceptionInfo, *parts: str) -> None:
    """The message is one line and mentions every part."""
    message = str(error.value)
    assert "\n" not in message, message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


def test_prepared_folder_loads(prepared: Path) -> None:
    dataset = SegmentationFolder(prepared, split="train", size=16)
    assert len(dataset) == 2 and dataset.class_names == NAMES and dataset.num_classes == 3
    assert dataset.palette == [tuple(color) for color in PALETTE]
    item = dataset[0]
    assert set(item) == {"label", "image"}
    assert item["label"].shape == (16, 16) and item["label"].dtype == torch.int64
    assert item["image"].shape == (3, 16, 16) and item["image"].dtype == torch.float32
    assert -1.0 <= item["image"].min() < -0.8 and 0.8 < item["image"].max() <= 1.0
    assert item["label"].unique().tolist() == [0, 1, 2], "nearest resizing keeps class ids exact"
    assert item["label"][0, 0] == 0 and item["label"][-1, 0] == 2
    assert 255 in dataset[1]["label"].unique().tolist()


def test_size_as_height_width(prepared: Path) -> None:
    item = SegmentationFolder(prepared, size=(12, 24))[0]
    assert item["label"].shape == (12, 24) and item["image"].shape == (3, 12, 24)


@pytest.mark.parametrize("size", [0, (12,), "16", 16.0, (12, True)])
def test_bad_size(prepared: Path, size: object) -> None:
    with pytest.raises(ValueError) as error:
        SegmentationFolder(prepared, size=size)
    one_line_error(error, "size=")


def test_plain_folder_infers_classes(tmp_path: Path) -> None:
    label = stripes()
    label[0, 0] = 255
    write_pair(tmp_path, "x", label)
    dataset = SegmentationFolder(tmp_path, size=8)
    assert dataset.num_classes == 3 and dataset.class_names == ["class 0", "class 1", "class 2"]
    assert dataset.palette == default_palette(3)
    wider = SegmentationFolder(tmp_path, size=8, num_classes=5)
    assert wider.num_classes == 5 and len(wider.palette) == 5


def test_palette_png_reads_indices_not_colours(tmp_path: Path) -> None:
    write_pair(tmp_path, "p", stripes())
    indexed = Image.fromarray(stripes(), mode="P")
    indexed.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    indexed.save(tmp_path / "labels" / "p.png")
    assert Image.open(tmp_path / "labels" / "p.png").mode == "P"
    dataset = SegmentationFolder(tmp_path, size=(20, 30))
    assert dataset.num_classes == 3
    assert torch.equal(dataset[0]["label"], torch.from_numpy(stripes().astype(np.int64)))


def test_missing_pairs_name_stems_and_sides(tmp_path: Path) -> None:
    write_pair(tmp_path, "both", stripes())
    write_pair(tmp_path, "lonely", stripes())
    (tmp_path / "labels" / "lonely.png").unlink()
    Image.fromarray(stripes(), mode="L").save(tmp_path / "labels" / "orphan.png")
    with pytest.raises(ValueError) as error:
        SegmentationFolder(tmp_path)
    one_line_error(error, "lonely", "orphan", "images/", "labels/")


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_colour_label_is_refused(tmp_path: Path, mode: str) -> None:
    write_pair(tmp_path, "c", stripes())
    Image.new(mode, (30, 20), (10, 20, 30)).save(tmp_path / "labels" / "c.png")
    with pytest.raises(ValueError) as error:
        SegmentationFolder(tmp_path)
    one_line_error(error, str(tmp_path / "labels" / "c.png"), f"is an {mode} image", "single-channel")


def test_colour_palette_label_is_refused(prepared: Path) -> None:
    coded = Image.fromarray(stripes() * 40, mode="P")  # indices 0, 40, 80: colours, not class ids
    coded.putpalette(list(range(256)) * 3)
    coded.save(prepared / "train" / "labels" / "a.png")
    dataset = SegmentationFolder(prepared)
    with pytest.raises(ValueError) as error:
        dataset[0]
    one_line_error(error, "a.png", "palette index 40", "0..2")


def test_out_of_range_id_is_caught_when_loaded(prepared: Path) -> None:
    label = stripes()
    label[5, 5] = 7
    Image.fromarray(label, mode="L").save(prepared / "train" / "labels" / "b.png")
    dataset = SegmentationFolder(prepared)  # dataset.json gives the classes: files are checked lazily
    dataset[0]
    with pytest.raises(ValueError) as error:
        dataset[1]
    one_line_error(error, str(prepared / "train" / "labels" / "b.png"), "class id 7", "0..2", "255")


def test_size_mismatch_names_both_files(prepared: Path) -> None:
    Image.fromarray(stripes(10, 30), mode="L").save(prepared / "train" / "labels" / "a.png")
    with pytest.raises(ValueError) as error:
        SegmentationFolder(prepared)[0]
    one_line_error(error, "images/a.jpg", "labels/a.png", "30x20", "30x10")


@pytest.mark.parametrize("side", ["images/a.jpg", "labels/a.png"])
def test_corrupt_file_is_named(prepared: Path, side: str) -> None:
    (prepared / "train" / side).write_bytes(b"this is not an image")
    with pytest.raises(ValueError) as error:
        SegmentationFolder(prepared)[0]
    one_line_error(error, side, "cannot read")


def test_jpeg_label_is_refused(tmp_path: Path) -> None:
    write_pair(tmp_path, "j", stripes())
    (tmp_path / "labels" / "j.png").rename(tmp_path / "labels" / "j.jpg")
    with pytest.raises(ValueError) as error:
        SegmentationFolder(tmp_path)
    one_line_error(error, "j.jpg", "PNG")


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as error:
        SegmentationFolder(tmp_path / "nowhere")
    one_line_error(error, "nowhere")
    with pytest.raises(FileNotFoundError) as error:
        SegmentationFolder(tmp_path)
    one_line_error(error, "images/", "labels/")
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    with pytest.raises(ValueError) as error:
        SegmentationFolder(tmp_path)
    one_line_error(error, "no files")


def test_missing_split_lists_the_splits(prepared: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as error:
        SegmentationFolder(prepared, split="val")
    one_line_error(error, "'val'", "splits found: train")
    write_pair(tmp_path / "plain", "x", stripes())
    with pytest.raises(FileNotFoundError) as error:
        SegmentationFolder(tmp_path / "plain", split="val")
    one_line_error(error, "'val'", "plain folder")


def test_dataset_json_problems(prepared: Path) -> None:
    with pytest.raises(ValueError) as error:
        SegmentationFolder(prepared, num_classes=4)
    one_line_error(error, "num_classes=4", "dataset.json", "3 classes")
    (prepared / "dataset.json").write_text(json.dumps({"class_names": NAMES, "palette": PALETTE[:2]}))
    with pytest.raises(ValueError) as error:
        SegmentationFolder(prepared)
    one_line_error(error, "dataset.json", "2 colours for 3 names")
    (prepared / "dataset.json").write_text("{not json")
    with pytest.raises(ValueError) as error:
        SegmentationFolder(prepared)
    one_line_error(error, "dataset.json", "cannot read")


def test_load_dataset_by_name_and_path(prepared: Path) -> None:
    landscapes = load_dataset("landscapes", size=32)
    assert isinstance(landscapes, Landscapes) and landscapes.size == 32
    validation = load_dataset("landscapes", split="val", size=32)
    assert not torch.equal(landscapes[0]["label"], validation[0]["label"])
    by_name = load_dataset("facades", root=prepared.parent, size=8)
    by_path = load_dataset(str(prepared), size=8)
    assert by_name.class_names == by_path.class_names == NAMES and len(by_name) == len(by_path) == 2


def test_load_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as error:
        load_dataset("ade20k", root=tmp_path)
    one_line_error(error, "ade20k", "python data/download.py ade20k --root")
    with pytest.raises(ValueError) as error:
        load_dataset("imagenet", root=tmp_path)
    one_line_error(error, "'imagenet'", "landscapes")
    with pytest.raises(ValueError) as error:
        load_dataset("landscapes", split="test")
    one_line_error(error, "split='test'")


# ---------------------------------------------------------------- class counts, hostile files, instances, workers


def test_class_count_from_dataset_json_or_num_classes_not_the_largest_id(prepared: Path, tmp_path: Path) -> None:
    for stem in ("a", "b"):  # this subset lacks class 2, which dataset.json names
        zeros = Image.fromarray(np.zeros((20, 30), dtype=np.uint8), mode="L")
        zeros.save(prepared / "train" / "labels" / f"{stem}.png")
    assert SegmentationFolder(prepared).num_classes == 3
    write_pair(tmp_path / "plain", "x", np.zeros((20, 30), dtype=np.uint8))
    assert SegmentationFolder(tmp_path / "plain", num_classes=9).num_classes == 9
    assert SegmentationFolder(tmp_path / "plain").num_classes == 1  # nothing says the count: the data alone


def test_all_dont_care_labels_are_refused(tmp_path: Path) -> None:
    write_pair(tmp_path, "x", np.full((20, 30), 255, dtype=np.uint8))
    with pytest.raises(ValueError) as error:
        SegmentationFolder(tmp_path)
    one_line_error(error, str(tmp_path), "255", "num_classes")
    assert SegmentationFolder(tmp_path, num_classes=2).num_classes == 2


@pytest.mark.parametrize("meta, named", [
    (["wall", "window"], "not a list"),
    ({"class_names": 5, "palette": []}, "got 5"),
    ({"class_names": "skyroadcar"}, '"skyroadcar"'),
    ({"class_names": [f"c{i}" for i in range(300)]}, "300 classes"),
])
def test_dataset_json_shapes(prepared: Path, meta: object, named: str) -> None:
    (prepared / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError) as error:
        SegmentationFolder(prepared)
    one_line_error(error, "dataset.json", named)


@pytest.mark.parametrize("num_classes", [0, 256, 3.0, True])
def test_bad_num_classes(prepared: Path, num_classes: object) -> None:
    with pytest.raises(ValueError) as error:
        SegmentationFolder(prepared, num_classes=num_classes)
    one_line_error(error, f"num_classes={num_classes!r}", "255")


@pytest.mark.parametrize("side", ["images/a.png", "labels/a.png"])
def test_decompression_bomb_in_a_folder(prepared: Path, side: str) -> None:
    (prepared / "train" / "images" / "a.jpg").unlink()
    write_pair(prepared / "train", "a", stripes(), image_suffix=".png")
    (prepared / "train" / side).write_bytes(png_claiming(40000, 40000))
    with pytest.raises(ValueError) as error:
        SegmentationFolder(prepared)[0]
    one_line_error(error, side, "MAX_IMAGE_PIXELS")


@pytest.mark.parametrize("side", ["images/a.jpg", "labels/a.png"])
@pytest.mark.parametrize("damage", [truncated, lambda data: b""])
def test_truncated_and_empty_files_in_a_folder(prepared: Path, side: str, damage) -> None:
    path = prepared / "train" / side
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError) as error:
        SegmentationFolder(prepared)[0]
    one_line_error(error, side, "cannot read")


def test_worker_error_surfaces_as_the_original_line(prepared: Path) -> None:
    label = stripes()
    label[3, 3] = 9
    Image.fromarray(label, mode="L").save(prepared / "train" / "labels" / "b.png")
    loader = DataLoader(SegmentationFolder(prepared, size=8), batch_size=2, num_workers=1)
    with pytest.raises(DatasetError) as error:
        next(iter(loader))
    assert str(error.value) == f"{prepared / 'train' / 'labels' / 'b.png'}: class id 9 is out of range; valid class " \
                               "ids are 0..2 (255 = don't care)"


@pytest.mark.slow
def test_instances_and_dont_care_in_items(prepared: Path) -> None:
    instances = prepared / "train" / "instances"
    instances.mkdir()
    for stem in ("a", "b"):
        ids = np.zeros((20, 30), dtype=np.uint16)
        ids[:, 15:] = 26001  # past 255: a 16-bit PNG, as Cityscapes' instance ids
        Image.fromarray(ids).save(instances / f"{stem}.png")
    dataset = SegmentationFolder(prepared, size=(20, 30))
    item = dataset[1]
    assert set(item) == {"label", "image", "instance"} and item["instance"].dtype == torch.int64
    assert item["instance"][0, 0] == 0 and item["instance"][0, -1] == 26001
    assert (item["label"][0, :5] == 255).all(), "don't care stays 255"
    batch = next(iter(DataLoader(dataset, batch_size=2)))
    assert batch["instance"].shape == (2, 20, 30)
    (instances / "a.png").unlink()
    with pytest.raises(ValueError) as error:
        SegmentationFolder(prepared)
    one_line_error(error, "instances/", "a")


def test_preprocess_through_load_dataset(prepared: Path) -> None:
    preprocess = Preprocess("resize_and_crop", crop_size=16, load_size=24, flip=True)
    dataset = load_dataset(str(prepared), preprocess=preprocess)
    assert dataset[0]["image"].shape == (3, 16, 16) and dataset[0]["label"].shape == (16, 16)
    with pytest.raises(ValueError) as error:
        SegmentationFolder(prepared, size=16, preprocess=preprocess)
    one_line_error(error, "size", "preprocess")
    assert load_dataset("landscapes", preprocess=Preprocess("fixed", crop_size=32)).size == 32
    with pytest.raises(ValueError) as error:
        load_dataset("landscapes", preprocess=preprocess)
    one_line_error(error, "landscapes", "fixed")


@pytest.mark.parametrize("name", [None, 3, ["landscapes"]])
def test_load_dataset_of_something_not_a_name_is_one_line(name):
    with pytest.raises(ValueError, match="load_dataset: name=.*; pass 'landscapes', a prepared dataset's name"):
        load_dataset(name)

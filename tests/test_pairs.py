"""The official folder layouts read in place: small COCO-Stuff, ADE20K and Cityscapes trees with instance maps and
don't-care pixels (tests/official_layouts.py); the layout detected when only one fits; class counts from the layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from official_layouts import SHAPE, ade20k, cityscapes, cocostuff

from spade_lesson.data import load_dataset
from spade_lesson.data.classes import ADE20K_CLASSES, COCOSTUFF_CLASSES
from spade_lesson.data.pairs import detect_layout


def test_cocostuff_layout_in_place(tmp_path: Path) -> None:
    root = cocostuff(tmp_path / "coco")
    assert detect_layout(root) == "cocostuff"
    dataset = load_dataset(str(root), split="val", size=SHAPE)
    assert len(dataset) == 2 and dataset.num_classes == 182 and dataset.class_names == list(COCOSTUFF_CLASSES)
    item = dataset[0]
    assert item["label"].flatten()[:4].tolist() == [0, 181, 255, 91], "ids as stored, 255 = don't care"
    assert item["instance"].flatten()[:4].tolist() == [0, 1, 2, 300]


def test_ade20k_layout_shifts_ids(tmp_path: Path) -> None:
    root = ade20k(tmp_path / "ade")
    for path in (root, root / "ADEChallengeData2016"):  # the folder above it, or ADEChallengeData2016 itself
        assert detect_layout(path) == "ade20k"
        dataset = load_dataset(str(path), split="train", size=SHAPE)
        assert dataset.num_classes == 150 and dataset.class_names[0] == ADE20K_CLASSES[0]
        assert dataset[0]["label"].flatten()[:4].tolist() == [255, 0, 149, 1]  # as the official postprocess
        assert "instance" not in dataset[0]


def test_cityscapes_layout_with_instances(tmp_path: Path) -> None:
    root = cityscapes(tmp_path / "cityscapes")
    assert detect_layout(root) == "cityscapes"
    dataset = load_dataset(str(root), split="val", size=SHAPE)
    assert dataset.num_classes == 35 and dataset.palette[7] == (128, 64, 128)  # label_nc 35, as officially
    item = dataset[0]
    assert item["label"].flatten()[:4].tolist() == [0, 7, 26, 33]
    assert item["instance"].flatten()[:4].tolist() == [0, 7, 26001, 26002]


@pytest.mark.parametrize("build, layout", [(cocostuff, "cocostuff"), (ade20k, "ade20k"), (cityscapes, "cityscapes")])
def test_explicit_layout_and_num_classes(tmp_path: Path, build, layout: str) -> None:
    root = build(tmp_path / layout)
    known = load_dataset(str(root), layout=layout, size=SHAPE).num_classes
    assert load_dataset(str(root), layout=layout, num_classes=known, size=SHAPE).num_classes == known
    with pytest.raises(ValueError) as error:
        load_dataset(str(root), layout=layout, num_classes=known - 1)
    assert f"num_classes={known - 1}" in str(error.value) and "\n" not in str(error.value)


def test_dataset_json_beside_an_official_layout_wins(tmp_path: Path) -> None:
    root = cocostuff(tmp_path / "coco")
    (root / "dataset.json").write_text(json.dumps({"class_names": [f"c{i}" for i in range(200)]}))
    assert load_dataset(str(root), size=SHAPE).num_classes == 200


def test_preprocess_on_an_official_layout_keeps_label_and_instance_aligned(tmp_path: Path) -> None:
    from spade_lesson.data.preprocess import Preprocess

    root = cityscapes(tmp_path / "cityscapes")
    torch.manual_seed(0)
    dataset = load_dataset(str(root), preprocess=Preprocess("resize_and_crop", crop_size=8, load_size=12, flip=True))
    for _ in range(5):
        item = dataset[0]
        label, instance = item["label"], item["instance"]
        assert label.shape == instance.shape == (8, 8)
        cars = label == 26
        assert (instance[cars] == 26001).all() and (instance[label == 7] == 7).all()


def test_ambiguous_and_unknown_layouts(tmp_path: Path) -> None:
    root = cocostuff(tmp_path / "both")
    cityscapes(root)
    with pytest.raises(ValueError) as error:
        load_dataset(str(root))
    assert "cityscapes" in str(error.value) and "cocostuff" in str(error.value) and "layout=" in str(error.value)
    assert load_dataset(str(root), layout="cityscapes", size=SHAPE).num_classes == 35
    with pytest.raises(ValueError) as error:
        load_dataset(str(root), layout="voc")
    assert "layout='voc'" in str(error.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError) as error:
        load_dataset(str(tmp_path / "empty"))
    assert "leftImg8bit" in str(error.value) and "\n" not in str(error.value)


def test_missing_partner_in_an_official_layout(tmp_path: Path) -> None:
    root = cocostuff(tmp_path / "coco")
    (root / "train_inst" / "000000000025.png").unlink()
    with pytest.raises(ValueError) as error:
        load_dataset(str(root))
    assert "train_inst/" in str(error.value) and "000000000025" in str(error.value)


def test_ade20k_annotations_saved_as_16_bit_pngs_still_go_through_the_class_table(tmp_path: Path) -> None:
    import numpy as np
    from official_layouts import ids_png

    root = ade20k(tmp_path / "ade")
    annotation = root / "ADEChallengeData2016" / "annotations" / "training" / "ADE_train_00000001.png"
    ids_png(annotation, [0, 1, 150, 2], dtype=np.uint16)
    dataset = load_dataset(str(root), split="train", size=SHAPE)
    assert dataset[0]["label"].flatten()[:4].tolist() == [255, 0, 149, 1]  # as the 8-bit file
    ids_png(annotation, [0, 1, 300, 2], dtype=np.uint16)
    with pytest.raises(ValueError, match="label value 300 is not an id of this dataset's layout"):
        load_dataset(str(root), split="train", size=SHAPE)[0]


def test_cityscapes_one_stem_in_two_city_folders_is_refused(tmp_path: Path) -> None:
    import shutil

    root = cityscapes(tmp_path / "cityscapes")
    for kind in ("leftImg8bit", "gtFine"):
        shutil.copytree(root / kind / "val" / "frankfurt", root / kind / "val" / "munster")
    with pytest.raises(ValueError, match="have the same stem 'frankfurt_000000_000019' in two city folders"):
        load_dataset(str(root), split="val", size=SHAPE)

"""spade_lesson.training.dataset_defaults: an official dataset's layout brings its official options, under the flags."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from spade_lesson.training.config import cpu_config
from spade_lesson.training.dataset_defaults import OFFICIAL_DEFAULTS, official_dataset, with_dataset_defaults

sys.path.insert(0, str(Path(__file__).parent))
from official_layouts import ade20k, cityscapes, cocostuff  # noqa: E402


@pytest.mark.parametrize("build, name, shown", [(cocostuff, "cocostuff", "COCO-Stuff"), (ade20k, "ade20k", "ADE20K"),
                                               (cityscapes, "cityscapes", "Cityscapes")])
def test_each_official_layout_is_recognised(tmp_path, build, name, shown):
    root = build(tmp_path / name)
    assert official_dataset(str(root), "data") == (name, f"the {shown} layout of {root}")


def test_the_official_options_per_dataset():
    assert OFFICIAL_DEFAULTS["cocostuff"] == {"contain_dontcare_label": True, "no_instance": False,
                                              "preprocess_mode": "resize_and_crop", "load_size": 286, "size": 256,
                                              "flip": True}
    assert OFFICIAL_DEFAULTS["ade20k"] == {"contain_dontcare_label": True, "no_instance": True,
                                           "preprocess_mode": "resize_and_crop", "load_size": 286, "size": 256,
                                           "flip": True}
    assert OFFICIAL_DEFAULTS["cityscapes"] == {"no_instance": False, "preprocess_mode": "fixed", "load_size": 512,
                                               "size": 512, "aspect_ratio": 2.0, "num_upsampling_layers": "more",
                                               "flip": True}


def test_cityscapes_defaults_make_a_valid_config_of_512_by_256(tmp_path):
    root = cityscapes(tmp_path / "cityscapes")
    settings, line = with_dataset_defaults({"dataset": str(root)}, "data")
    assert cpu_config(**settings).image_size == (256, 512)
    assert line.startswith(f"official Cityscapes defaults from the Cityscapes layout of {root}: no_instance=False")


def test_flags_win_and_other_datasets_get_nothing(tmp_path):
    settings, line = with_dataset_defaults({"dataset": "ade20k", "size": 128}, "data")
    assert settings["size"] == 128 and settings["load_size"] == 286 and "your flags kept: size" in line
    assert "the prepared ade20k dataset in data/ade20k" in line
    for dataset in ("landscapes", "facades", str(tmp_path / "missing"), str(tmp_path)):
        assert with_dataset_defaults({"dataset": dataset}, "data") == ({"dataset": dataset}, None)

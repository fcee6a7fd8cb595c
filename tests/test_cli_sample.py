"""`spade-lesson sample` given bad input: never over an input or an existing output; damaged labels, bad opt.txt
values, missing devices and unwritable folders each give one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from command_line import refused, run_cli, sample_args, snapshot
from hostile import png_claiming, truncated
from PIL import Image


def test_sample_refuses_to_write_over_its_input_label(official_files, capsys) -> None:
    maps = official_files["label"].parent
    before = snapshot(maps)
    refused(capsys, *sample_args(official_files, out=maps), parts=("a.png", "input"))
    refused(capsys, *sample_args(official_files, out=maps), "--overwrite", parts=("a.png", "input"))
    assert snapshot(maps) == before


@pytest.mark.slow
def test_sample_refuses_existing_outputs_unless_overwrite(official_files, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"the user's picture")
    refused(capsys, *sample_args(official_files, out=out), parts=(str(out / "a.png"), "--overwrite"))
    assert (out / "a.png").read_bytes() == b"the user's picture"
    code, err = run_cli(capsys, *sample_args(official_files, out=out), "--overwrite")
    assert code == 0, err
    with Image.open(out / "a.png") as written:
        assert written.size == (32, 32)


def test_sample_out_that_is_a_file_is_one_line(official_files, tmp_path, capsys) -> None:
    blocker = tmp_path / "out.png"
    blocker.write_bytes(b"a file")
    refused(capsys, *sample_args(official_files, out=blocker), parts=(str(blocker), "--out"))
    assert blocker.read_bytes() == b"a file"


def test_sample_out_read_only_is_one_line(official_files, tmp_path, capsys) -> None:
    out = tmp_path / "read_only"
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere a mode allows nothing; sysfs refuses even root
        out = Path("/sys/kernel")
    try:
        refused(capsys, *sample_args(official_files, out=out), parts=(str(out),))
    finally:
        (tmp_path / "read_only").chmod(0o755)


@pytest.mark.parametrize("damage", ["truncated", "zero-byte", "bomb"])
def test_sample_with_a_damaged_label_is_one_line_and_writes_nothing(official_files, tmp_path, capsys,
                                                                    damage) -> None:
    label = official_files["label"]
    data = {"truncated": truncated(label.read_bytes()), "zero-byte": b"", "bomb": png_claiming(40000, 40000)}
    label.write_bytes(data[damage])
    out = tmp_path / "out"
    refused(capsys, *sample_args(official_files, out=out), parts=(str(label),))
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize("value", ["0.0", "-1", "inf", "nan", "wide"])
def test_sample_with_a_bad_aspect_ratio_in_opt_txt_is_one_line(official_files, tmp_path, capsys, value) -> None:
    opt = official_files["opt"]
    opt.write_text(opt.read_text() + f"{'aspect_ratio':>25}: {value}\n")
    refused(capsys, *sample_args(official_files, out=tmp_path / "out"), parts=("aspect_ratio",))


@pytest.mark.parametrize("device", ["mps", "meta", "cuda:7", "xla"])
def test_sample_on_a_device_this_machine_lacks_is_one_line(official_files, tmp_path, capsys, device) -> None:
    if device == "mps" and torch.backends.mps.is_available() or device == "cuda:7" and torch.cuda.device_count() > 7:
        pytest.skip(f"{device} exists here")
    refused(capsys, *sample_args(official_files, out=tmp_path / "out"), "--device", device,
            parts=("--device", device))



"""Tests for the `spade-lesson` command: demo end to end, train and --resume, one-line errors, lazy start-up."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from command_line import copy_run, refused, snapshot
from PIL import Image

from spade_lesson.cli import main
from spade_lesson.training.checkpoint_file import load_checkpoint

SMALL = ["--preset", "cpu", "--size", "32", "--batch", "2", "--ngf", "4", "--spade-hidden", "8", "--ndf", "4",
         "--n-layers-D", "2", "--checkpoint-every", "2", "--sample-every", "2", "--log-every", "1", "--device", "cpu"]


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Any:
    """One CPU thread: tiny convolutions gain nothing from more, and lose a lot on a machine other jobs load."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)  # the demo sets its own thread count too


@pytest.mark.slow
def test_demo_writes_a_picture_and_says_where(tmp_path, capsys, monkeypatch):
    import spade_lesson.cli.demo as demo

    judge = demo.judge_files((0,))[0]  # the shipped judge of seed 0 reads the score
    assert judge.is_file()
    monkeypatch.setattr(demo, "judge_files", lambda seeds=(0,): [judge])
    out = tmp_path / "demo"
    for _ in range(2):  # a second demo into the same folder starts afresh
        assert main(["demo", "--out", str(out), "--steps", "2"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out / 'demo.png'}" in printed
    assert printed.count("what to expect, measured (") == 2 and "\r" not in printed  # plain lines, no bar
    assert printed.count("the log's losses: D_fake and D_real") == 2
    last = printed.strip().splitlines()[-1]  # the run's own score, read by the judge
    assert re.fullmatch(r"the judge \(a segmenter trained on real photos\) reads \d+% of the layout back from this "
                        r"run's pictures of 64 unseen maps; from the real photos: \d+% \(mIoU\)", last), last
    assert f"{out.name}: step 2/2 (100%), " in printed
    with Image.open(out / "demo.png") as picture:  # 6 unseen label maps: label | generated | real, 64 px drawn x 2
        assert picture.format == "PNG" and picture.size[0] == 3 * 128 and picture.mode == "RGB"
        assert picture.size[1] > 6 * 128  # a band of column titles above, the caption below
        assert picture.getpixel((0, 0)) == (255, 255, 255)
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 2


def test_demo_titles_are_drawn_above_their_columns():
    from spade_lesson.cli.demo import titled

    grid = torch.zeros(32, 96, 3, dtype=torch.uint8)
    picture = titled(grid, ("a", "b", "c"), ("one line",))
    assert picture.shape == (32 + 2 * 16 + 4, 96, 3) and picture.dtype == torch.uint8
    assert (picture[16:48] == 0).all()  # the grid itself, untouched below the title band
    for column in range(3):  # each title is drawn (dark pixels) in its own column's band
        band = picture[:16, column * 32:(column + 1) * 32]
        assert (band < 128).any()


@pytest.mark.slow
def test_demo_without_its_judge_says_where_it_should_be(tmp_path, capsys, monkeypatch):
    import spade_lesson.cli.demo as demo

    monkeypatch.setattr(demo, "judge_files", lambda seeds=(0,): [tmp_path / "segmenter-x.pt"])
    line = demo.score_line(torch.nn.Conv2d(9, 3, 1), 64)
    assert line.startswith(f"(no judge at {tmp_path / 'segmenter-x.pt'}: the score is skipped")


def test_demo_into_an_unwritable_folder_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["demo", "--out", str(blocker / "demo"), "--steps", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spade-lesson demo: error: out=") and "pick another --out" in err[0]


@pytest.mark.slow
def test_train_then_resume_continues_to_the_new_step_count(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", *SMALL, "--steps", "2", "--out", out]) == 0
    assert main(["train", "--resume", "--out", out, "--steps", "4"]) == 0
    saved = load_checkpoint(Path(out) / "checkpoint.pt")
    assert saved["step"] == 4 and saved["config"]["ngf"] == 4  # the checkpoint's settings were kept
    assert "trained to step 4" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["train", "--size", "big"], "spade-lesson train: error: argument --size: invalid int value: 'big'"),
    (["train", "--gan-mode", "wgan"], "spade-lesson train: error: argument --gan-mode: invalid choice: 'wgan'"),
    (["demo", "--colour"], "spade-lesson demo: error: unrecognized arguments: --colour"),
    (["fly"], "spade-lesson: error: argument command: invalid choice: 'fly'"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and err[0].startswith(message)


@pytest.mark.parametrize("argv, message", [
    (["train", "--steps", "0", "--out", "{tmp}"], "spade-lesson train: error: steps=0 must be at least 1"),
    (["train", "--resume", "--out", "{tmp}"], "spade-lesson train: error: {tmp}/checkpoint.pt: no checkpoint there"),
    (["train", "--dataset", "{tmp}/nothing", "--out", "{tmp}"], "spade-lesson train: error: load_dataset:"),
])
def test_bad_values_exit_1_with_one_line(argv, message, tmp_path, capsys):
    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message.format(tmp=tmp_path))


def test_sample_is_forwarded_to_the_official_sampler(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sample", "-h"])
    assert exit_info.value.code == 0 and "--checkpoint" in capsys.readouterr().out


def test_start_up_does_not_import_torch():
    code = "import sys, spade_lesson.cli; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_train_options_are_made_from_the_settings_fields(capsys):
    import dataclasses

    from spade_lesson.cli.parser import OneLineParser, add_settings
    from spade_lesson.training.config import TrainConfig

    parser = OneLineParser(prog="t")
    add_settings(parser, TrainConfig)
    assert {action.dest for action in parser._actions} - {"help"} == {f.name for f in dataclasses.fields(TrainConfig)}
    args = parser.parse_args(["--max-minutes", "2", "--vae", "--no-channels-last", "--batch", "3", "--lr-G", "1e-3"])
    assert (args.max_seconds, args.use_vae, args.channels_last, args.batch_size, args.lr_G) == (120.0, True, False, 3,
                                                                                                  1e-3)
    assert args.size is None and args.resume is None  # unset: the preset decides
    with pytest.raises(SystemExit):
        main(["train", "-h"])
    assert "layers of each PatchGAN" in capsys.readouterr().out  # the help is the field's own


@pytest.mark.slow
def test_train_reads_a_cocostuff_folder_in_place_with_its_official_defaults_and_no_flags(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).parent))
    from official_layouts import cocostuff

    root = cocostuff(tmp_path / "cocostuff")
    out = tmp_path / "run"
    code = main(["train", "--preset", "cpu", "--dataset", str(root), "--steps", "1", "--batch", "1", "--ngf", "2",
                 "--spade-hidden", "4", "--ndf", "2", "--n-layers-D", "1", "--num-D", "1", "--device", "cpu",
                 "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    saved = load_checkpoint(out / "checkpoint.pt")
    assert (saved["label_nc"], saved["semantic_nc"]) == (182, 184)  # COCO-Stuff's classes + don't care + edges
    config = saved["config"]
    assert (config["preprocess_mode"], config["load_size"], config["size"], config["flip"]) == \
        ("resize_and_crop", 286, 256, True)
    line = next(line for line in captured.out.splitlines() if line.startswith("official COCO-Stuff defaults"))
    assert f"the COCO-Stuff layout of {root}" in line and "contain_dontcare_label=True" in line \
        and "no_instance=False" in line


@pytest.mark.slow
def test_a_flag_overrides_an_official_default_and_the_line_says_so(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).parent))
    from official_layouts import cocostuff

    root = cocostuff(tmp_path / "cocostuff")
    out = tmp_path / "run"
    code = main(["train", *SMALL, "--dataset", str(root), "--steps", "1", "--out", str(out), "--load-size", "40",
                 "--no-instance", "--no-contain-dontcare-label", "--no-flip"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    saved = load_checkpoint(out / "checkpoint.pt")
    assert (saved["label_nc"], saved["semantic_nc"]) == (182, 182)
    assert saved["config"]["preprocess_mode"] == "resize_and_crop" and saved["config"]["flip"] is False
    assert "your flags kept: contain_dontcare_label, flip, load_size, no_instance, size" in captured.out


@pytest.mark.slow
def test_demo_refuses_a_folder_holding_a_training_run(trained, tmp_path, capsys) -> None:
    out = copy_run(trained, tmp_path)
    before = snapshot(out)
    refused(capsys, "demo", "--out", out, "--steps", "1", parts=(str(out), "--out"))
    assert snapshot(out) == before


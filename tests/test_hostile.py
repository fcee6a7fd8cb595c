"""Hostile and careless input (issue 14): each case builds its input here, gets one clear line (or the right
behaviour), and loses nothing the user had."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hostile import png_claiming, truncated
from PIL import Image

from spade_lesson.course.labelmap import LabelMap
from spade_lesson.course.widgets import LabelCanvas, Painter
from spade_lesson.models.generator import SPADEGenerator
from spade_lesson.runtime import atomic
from spade_lesson.runtime.atomic import atomic_write, remove_stale_temporaries, write_text

ROOT = Path(__file__).resolve().parents[1]
PALETTE = [(0, 0, 0), (255, 0, 0), (0, 255, 0)]


def one_line(message: str, *parts: str) -> None:
    """message is one line, no traceback, and mentions every part."""
    assert message.strip() and "\n" not in message.strip() and "Traceback" not in message, message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.fixture
def full_disk(monkeypatch) -> list[str]:
    """atomic_write's temporaries land on a full disk: the kernel answers every write with ENOSPC (/dev/full).

    Append file names to the returned list to fill the disk only for writes of those files.
    """
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    make, only = tempfile.mkstemp, []

    def mkstemp(**kwargs) -> tuple[int, str]:
        handle, path = make(**kwargs)  # the temporary exists, as on a real disk, so its removal can be checked
        if only and kwargs["prefix"].strip(".") not in only:
            return handle, path
        os.close(handle)
        return os.open("/dev/full", os.O_WRONLY), path

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)
    return only


@pytest.fixture(scope="module")
def generator() -> SPADEGenerator:
    torch.manual_seed(0)
    return SPADEGenerator(3, ngf=2, crop_size=32, spade_hidden=8)


# ---- painter and canvas values ----

def test_brush_size_inf_is_refused_and_the_map_is_unchanged() -> None:
    labels = LabelMap(8, 8, 3)
    with pytest.raises(ValueError) as error:
        labels.stroke([(1, 1)], class_id=1, size=float("inf"))
    one_line(str(error.value), "size=inf", "finite")
    assert (labels.ids == 0).all() and labels.version == 0


def test_brush_size_10_to_the_400_paints_the_whole_map_in_one_undo_step() -> None:
    labels = LabelMap(8, 8, 3)
    assert labels.stroke([(-5, -5)], class_id=1, size=10**400) == 64
    assert (labels.ids == 1).all()
    assert labels.undo() and (labels.ids == 0).all()


def test_a_list_sent_to_the_canvas_is_kept_as_an_error_not_raised() -> None:
    labels = LabelMap(8, 8, 3)
    canvas = LabelCanvas(labels, PALETTE)
    assert canvas.handle(["stroke", [(1, 1)], 1, 3]) == 0
    one_line(canvas.error, "list", "dict")
    assert canvas.handle({"kind": "stroke", "points": [(1, 1)], "class_id": 1, "size": float("inf")}) == 0
    one_line(canvas.error, "size=inf")
    assert (labels.ids == 0).all() and labels.version == 0


@pytest.mark.parametrize(("message", "shown"), [
    (None, "NoneType"),
    ("stroke", "str"),
    ({"kind": "stroke", "points": [(10**400, 1)], "class_id": 1, "size": 2}, "finite (x, y) pairs"),
    ({"kind": "stroke", "points": [(1, 1)], "class_id": 10**400, "size": 2}, "class_id=1000"),
    ({"kind": "fill", "x": None, "y": 1, "class_id": 1}, "NoneType"),
])
def test_hostile_canvas_messages_are_kept_as_one_line_errors(message, shown) -> None:
    labels = LabelMap(8, 8, 3)
    canvas = LabelCanvas(labels, PALETTE)
    assert canvas.handle(message) == 0
    one_line(canvas.error, shown)
    assert (labels.ids == 0).all() and labels.version == 0


def test_a_fill_click_beyond_any_float_lands_on_the_canvas_edge() -> None:
    labels = LabelMap(8, 8, 3)
    canvas = LabelCanvas(labels, PALETTE)
    assert canvas.handle({"kind": "fill", "x": 10**400, "y": -10**400, "class_id": 2}) == 64
    assert canvas.error == "" and (labels.ids == 2).all()


@pytest.mark.parametrize(("palette", "shown"), [
    ([(300, -1, 0)] * 3, "(300, -1, 0)"),
    ([(0, 0)] * 3, "(0, 0)"),
    ([(0.5, 0, 0)] * 3, "(0.5, 0, 0)"),
    (["#ff0000"] * 3, "'#ff0000'"),
])
def test_a_palette_colour_outside_0_255_is_refused_by_canvas_and_painter(generator, palette, shown) -> None:
    with pytest.raises(ValueError) as error:
        LabelCanvas(LabelMap(8, 8, 3), palette)
    one_line(str(error.value), "LabelCanvas", "palette colour 0", shown, "0..255")
    with pytest.raises(ValueError) as error:
        Painter(generator, class_names=["a", "b", "c"], palette=palette)
    one_line(str(error.value), "Painter", "palette colour 0", shown, "0..255")


def test_a_label_map_too_large_for_memory_is_refused_before_allocating() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as error:
            LabelMap(10**5, 10**5, 9)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_line(str(error.value), "100000 x 100000", str(4096 * 4096))
    assert peak < 2**20  # not the 10 GB the map would take
    assert LabelMap(4096, 4096, 9).ids.shape == (4096, 4096)  # the largest allowed still works


@pytest.mark.parametrize("scale", [0, -2, 1.5, 10**6])
def test_painter_scale_must_be_a_sensible_int(generator, scale) -> None:
    with pytest.raises(ValueError) as error:
        Painter(generator, class_names=["a", "b", "c"], palette=PALETTE, scale=scale)
    one_line(str(error.value), "Painter", f"scale={scale!r}", "1 to 64")


# ---- disk full and killed writes ----

def test_disk_full_during_an_atomic_write_keeps_the_old_file_and_no_temporary(tmp_path, full_disk) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"runs": [1]}')
    with pytest.raises(OSError) as error:
        write_text(path, '{"runs": [1, 2]}' * 10_000)
    one_line(str(error.value), "disk full", str(path), "previous results.json is intact", "free some space")
    assert error.value.errno == 28
    assert path.read_text() == '{"runs": [1]}'
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_disk_full_inside_torch_save_is_named_as_a_full_disk(tmp_path, full_disk) -> None:
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(OSError) as error, atomic_write(path) as file:
        torch.save({"G": torch.zeros(100_000)}, file)  # torch wraps the ENOSPC in a RuntimeError
    one_line(str(error.value), "disk full", str(path), "no checkpoint.pt was written")
    assert list(tmp_path.iterdir()) == []


def test_temporaries_of_a_killed_write_are_removed_and_nothing_else(tmp_path) -> None:
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"old")
    killed = subprocess.run(
        [sys.executable, "-c", "import os, sys\nfrom spade_lesson.runtime.atomic import atomic_write\n"
         "with atomic_write(sys.argv[1]) as file:\n    file.write(b'half')\n    file.flush()\n"
         "    os.kill(os.getpid(), 9)\n", str(target)],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, check=False)
    assert killed.returncode == -9, killed.stderr
    (left,) = [path for path in tmp_path.iterdir() if path.name != "checkpoint.pt"]
    assert left.name.startswith(".checkpoint.pt.") and left.name.endswith(".tmp")
    keep = [".hidden.tmp", "notes.abcd1234.tmp", ".losses.jsonl.abcd1234.tmp.bak", "losses.jsonl"]
    for name in keep:
        (tmp_path / name).write_text("user's")
    (tmp_path / ".folder.abcdefgh.tmp").mkdir()
    assert remove_stale_temporaries(tmp_path) == [left]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, ".folder.abcdefgh.tmp", "checkpoint.pt"])
    assert target.read_bytes() == b"old"
    assert remove_stale_temporaries(tmp_path / "missing") == []


# ---- the command line: helpers ----

TINY = ["--preset", "cpu", "--size", "32", "--batch", "2", "--ngf", "2", "--ndf", "2", "--spade-hidden", "4",
        "--n-layers-D", "2", "--log-every", "1", "--checkpoint-every", "2", "--sample-every", "2", "--device", "cpu"]
OPTIONS = {"label_nc": 3, "no_instance": True, "ngf": 2, "crop_size": 32, "norm_G": "spectralspadebatch3x3"}


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    """`spade-lesson ARGV` in this process -> (exit code, stderr); an exception escaping it fails the test."""
    from spade_lesson.cli import main

    capsys.readouterr()
    try:
        code = main([str(arg) for arg in argv])
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


def refused(capsys, *argv: str, parts: tuple[str, ...] = ()) -> str:
    """The command exits non-zero with one line on stderr mentioning every part; returns the line."""
    code, err = run_cli(capsys, *argv)
    assert code not in (0, None), err
    lines = [line.split("\r")[-1] for line in err.strip().splitlines()]
    report = "\n".join(line for line in lines if "%|" not in line)  # a training run's progress bar aside
    one_line(report, *parts)
    assert report.startswith("spade-lesson "), report
    return report


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder (relative path -> bytes): what must survive a refused command."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished 2-step CPU run (checkpoint, log, samples), made once; tests copy it before changing it."""
    from spade_lesson.cli import main

    out = tmp_path_factory.mktemp("trained") / "run"
    torch.set_num_threads(1)
    assert main(["train", *TINY, "--steps", "2", "--out", str(out)]) == 0
    return out


def copy_run(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained run that a test may change."""
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    return out


@pytest.fixture
def official_files(tmp_path) -> dict[str, Path]:
    """A small official-format generator (latest_net_G.pth + opt.txt) and a label map of ids 0..2 in maps/."""
    torch.manual_seed(0)
    from spade_lesson.models import official

    generator = SPADEGenerator(**official.network_arguments("G", OPTIONS))
    torch.save(generator.state_dict(), tmp_path / "latest_net_G.pth")
    (tmp_path / "opt.txt").write_text("".join(f"{name:>25}: {value}\n" for name, value in OPTIONS.items()))
    maps = tmp_path / "maps"
    maps.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 3, (32, 32), dtype=np.uint8)).save(maps / "a.png")
    return {"checkpoint": tmp_path / "latest_net_G.pth", "opt": tmp_path / "opt.txt", "label": maps / "a.png"}


def sample_args(files: dict[str, Path], *labels: Path, out: Path) -> list[str]:
    return ["sample", "--checkpoint", str(files["checkpoint"]), "--opt", str(files["opt"]),
            "--labels", *map(str, labels or (files["label"],)), "--out", str(out)]


# ---- sample: never over an input or an existing output; I/O errors ----

def test_sample_refuses_to_write_over_its_input_label(official_files, capsys) -> None:
    maps = official_files["label"].parent
    before = snapshot(maps)
    refused(capsys, *sample_args(official_files, out=maps), parts=("a.png", "input"))
    refused(capsys, *sample_args(official_files, out=maps), "--overwrite", parts=("a.png", "input"))
    assert snapshot(maps) == before


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


# ---- demo: replaces only its own run ----

def test_demo_refuses_a_folder_holding_a_training_run(trained, tmp_path, capsys) -> None:
    out = copy_run(trained, tmp_path)
    before = snapshot(out)
    refused(capsys, "demo", "--out", out, "--steps", "1", parts=(str(out), "--out"))
    assert snapshot(out) == before


# ---- train: fresh logs, stale temporaries, --resume mismatches ----

def test_a_fresh_run_starts_a_fresh_loss_log_and_clears_stale_temporaries(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "losses.jsonl").write_text("".join(f'{{"step": {step}, "D_fake": 1.0}}\n' for step in (1, 2, 3)))
    (out / ".checkpoint.pt.k1ll3d_x.tmp").write_bytes(b"half a checkpoint")
    (out / "samples").mkdir()
    (out / "samples" / ".step_000002.png.abcdefgh.tmp").write_bytes(b"half a png")
    code, err = run_cli(capsys, "train", *TINY, "--steps", "2", "--out", out)
    assert code == 0, err
    steps = [json.loads(line)["step"] for line in (out / "losses.jsonl").read_text().splitlines()]
    assert steps == [1, 2]
    assert not list(out.rglob("*.tmp"))


def test_resume_from_an_official_state_dict_is_one_line(official_files, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(official_files["checkpoint"], out / "checkpoint.pt")
    refused(capsys, "train", "--resume", "--out", out, parts=("checkpoint.pt", "state dict"))


def test_resume_from_the_shipped_sampling_checkpoint_is_one_line(tmp_path, capsys) -> None:
    from spade_lesson.checkpoints import SHIPPED

    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(SHIPPED, out / "checkpoint.pt")
    refused(capsys, "train", "--resume", "--out", out, parts=("checkpoint.pt", "sampling"))


def test_resume_with_a_config_key_this_version_lacks_is_one_line(trained, tmp_path, capsys) -> None:
    out = copy_run(trained, tmp_path)
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    state["config"]["warp_speed"] = 9
    torch.save(state, out / "checkpoint.pt")
    before = snapshot(out)
    refused(capsys, "train", "--resume", "--out", out, parts=("warp_speed",))
    assert snapshot(out) == before


def test_resume_after_the_class_count_changed_names_both_counts(tmp_path, capsys) -> None:
    data = tmp_path / "data"
    for folder in ("images", "labels"):
        (data / folder).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(4):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(data / "images" / f"{index}.png")
        Image.fromarray(rng.integers(0, 3, (32, 32), dtype=np.uint8)).save(data / "labels" / f"{index}.png")
    names = {"class_names": ["a", "b", "c"], "palette": [[0, 0, 0], [1, 1, 1], [2, 2, 2]]}
    (data / "dataset.json").write_text(json.dumps(names))
    out = tmp_path / "run"
    code, err = run_cli(capsys, "train", *TINY, "--dataset", data, "--steps", "2", "--out", out)
    assert code == 0, err
    names = {"class_names": ["a", "b", "c", "d"], "palette": [[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3]]}
    (data / "dataset.json").write_text(json.dumps(names))
    before = snapshot(out)
    refused(capsys, "train", "--resume", "--out", out, "--steps", "4", parts=("3 classes", "4"))
    assert snapshot(out) == before


def test_resume_with_more_steps_moves_the_derived_decay_start_along(trained, tmp_path, capsys) -> None:
    out = copy_run(trained, tmp_path)
    assert torch.load(out / "checkpoint.pt", weights_only=True)["config"]["decay_start"] == 1  # the preset: steps // 2
    code, err = run_cli(capsys, "train", "--resume", "--out", out, "--steps", "8")
    assert code == 0, err
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 8 and saved["config"]["decay_start"] == 4


def test_resume_with_fewer_steps_than_a_set_decay_start_names_it(trained, tmp_path, capsys) -> None:
    out = copy_run(trained, tmp_path)
    code, err = run_cli(capsys, "train", "--resume", "--out", out, "--steps", "20", "--decay-start", "15")
    assert code == 0, err
    refused(capsys, "train", "--resume", "--out", out, "--steps", "12", parts=("decay_start=15", "--decay-start"))


# ---- train: workers, devices, sizes, memory ----

def test_a_bad_label_read_by_a_worker_gives_the_original_message(tmp_path, capsys) -> None:
    data = tmp_path / "data"
    for folder in ("images", "labels"):
        (data / folder).mkdir(parents=True)
    for index in range(8):
        Image.new("RGB", (32, 32)).save(data / "images" / f"{index}.png")
        Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(data / "labels" / f"{index}.png")
    names = {"class_names": ["a", "b"], "palette": [[0, 0, 0], [9, 9, 9]]}
    (data / "dataset.json").write_text(json.dumps(names))
    Image.new("RGB", (32, 32)).save(data / "labels" / "7.png")  # a colour label, past the 4 the sample grid shows
    err = refused(capsys, "train", *TINY, "--dataset", data, "--steps", "8", "--workers", "2",
                  "--out", tmp_path / "run", parts=("7.png", "single-channel"))
    assert "worker" not in err.lower()


@pytest.mark.parametrize("device", ["mps", "meta", "cuda:7"])
def test_train_on_a_device_this_machine_lacks_is_one_line(tmp_path, capsys, device) -> None:
    if device == "mps" and torch.backends.mps.is_available() or device == "cuda:7" and torch.cuda.device_count() > 7:
        pytest.skip(f"{device} exists here")
    refused(capsys, "train", *TINY, "--steps", "1", "--device", device, "--out", tmp_path / "run",
            parts=("device", device))


def test_a_model_too_large_for_memory_is_refused_before_allocating(tmp_path, capsys) -> None:
    tracemalloc.start()
    try:
        refused(capsys, "train", *TINY, "--steps", "1", "--ngf", "1000000", "--out", tmp_path / "run",
                parts=("ngf=1000000", "PB", "memory", "--ngf"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**30


def test_num_d_too_deep_for_the_image_size_names_the_largest_that_fits(tmp_path, capsys) -> None:
    refused(capsys, "train", *TINY, "--steps", "1", "--num-D", "9", "--n-layers-D", "4", "--out", tmp_path / "run",
            parts=("--num-D", "32", "5"))


def test_n_layers_d_too_deep_for_the_image_size_names_the_largest_that_fits(tmp_path, capsys) -> None:
    refused(capsys, "train", *TINY, "--steps", "1", "--n-layers-D", "40", "--out", tmp_path / "run",
            parts=("--n-layers-D", "32", "6"))


# ---- non-finite losses and weights ----

def test_a_huge_learning_rate_stops_without_pointing_at_a_missing_checkpoint(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    err = refused(capsys, "train", *TINY, "--steps", "6", "--lr-G", "1e20", "--lr-D", "1e20", "--out", out,
                  parts=("became",))
    if (out / "checkpoint.pt").exists():
        saved = torch.load(out / "checkpoint.pt", weights_only=True)
        assert all(torch.isfinite(value).all() for value in saved["trainer"]["G"].values())
        assert str(out / "checkpoint.pt") in err
    else:
        assert "last good checkpoint" not in err and "no checkpoint" in err


def test_weights_that_became_non_finite_are_never_checkpointed(trained, tmp_path, capsys, monkeypatch) -> None:
    from spade_lesson.training import trainer as trainer_module

    out = copy_run(trained, tmp_path)
    good = (out / "checkpoint.pt").read_bytes()
    step = trainer_module.SPADETrainer.step

    def poisoned(self, *batch):
        losses = step(self, *batch)
        if self.steps_done == 4:
            with torch.no_grad():
                next(self.generator.parameters()).fill_(float("nan"))  # losses of this step were finite
        return losses

    monkeypatch.setattr(trainer_module.SPADETrainer, "step", poisoned)
    refused(capsys, "train", "--resume", "--out", out, "--steps", "4", parts=("weights", "G"))
    assert (out / "checkpoint.pt").read_bytes() == good


def test_disk_full_during_a_checkpoint_write_is_one_line_and_the_old_one_stays(trained, tmp_path, capsys,
                                                                              full_disk) -> None:
    out = copy_run(trained, tmp_path)
    good = (out / "checkpoint.pt").read_bytes()
    full_disk.append("checkpoint.pt")
    report = refused(capsys, "train", "--resume", "--out", out, "--steps", "4",
                     parts=("disk full while writing", str(out / "checkpoint.pt"), "previous checkpoint.pt is intact"))
    assert "Errno" not in report
    assert (out / "checkpoint.pt").read_bytes() == good
    assert not list(out.rglob("*.tmp"))


def _ddp_rank(rank: int, port: int, out: str, results: Any) -> None:
    """One of 2 gloo processes training on the CPU; rank 1's losses turn NaN at step 2."""
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from spade_lesson.training import trainer as trainer_module
    from spade_lesson.training.config import cpu_config
    from spade_lesson.training.loop import train

    step = trainer_module.SPADETrainer.step

    def nan_on_rank_1(self, *batch):
        losses = step(self, *batch)
        if rank == 1 and self.steps_done >= 2:
            losses["G_GAN"] = torch.tensor(float("nan"))
        return losses

    trainer_module.SPADETrainer.step = nan_on_rank_1
    try:
        train(cpu_config(size=32, steps=6, batch_size=2, ngf=2, ndf=2, spade_hidden=4, n_layers_D=2,
                     log_every=2, checkpoint_every=6, sample_every=6, out=out, device="cpu"), progress=False)
        results.put((rank, "finished"))
    except Exception as error:  # noqa: BLE001 - the test reads what each rank raised
        results.put((rank, f"{type(error).__name__}: {error}"))


def test_under_ddp_a_non_finite_loss_on_one_rank_stops_every_rank(tmp_path) -> None:
    context = torch.multiprocessing.get_context("spawn")
    results = context.Queue()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    processes = [context.Process(target=_ddp_rank, args=(rank, port, str(tmp_path / "run"), results))
                 for rank in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    hung = [process for process in processes if process.is_alive()]
    for process in hung:
        process.kill()
    assert not hung, "a rank hung"
    outcome = dict(results.get(timeout=5) for _ in range(2))
    for rank in range(2):
        assert outcome[rank].startswith("NonFiniteLossError") and "G_GAN" in outcome[rank], outcome

"""`spade-lesson train` given bad input: fresh logs and stale temporaries, --resume mismatches, workers, devices,
sizes and memory, non-finite losses and weights, a full disk; each refusal is one line and loses nothing."""

from __future__ import annotations

import json
import shutil
import tracemalloc

import numpy as np
import pytest
import torch
from command_line import TINY, copy_run, refused, run_cli, snapshot
from PIL import Image


@pytest.mark.slow
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


@pytest.mark.slow
def test_resume_with_a_config_key_this_version_lacks_is_one_line(trained, tmp_path, capsys) -> None:
    out = copy_run(trained, tmp_path)
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    state["config"]["warp_speed"] = 9
    torch.save(state, out / "checkpoint.pt")
    before = snapshot(out)
    refused(capsys, "train", "--resume", "--out", out, parts=("warp_speed",))
    assert snapshot(out) == before


@pytest.mark.slow
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


@pytest.mark.slow
def test_resume_with_more_steps_moves_the_derived_decay_start_along(trained, tmp_path, capsys) -> None:
    out = copy_run(trained, tmp_path)
    assert torch.load(out / "checkpoint.pt", weights_only=True)["config"]["decay_start"] == 1  # the preset: steps // 2
    code, err = run_cli(capsys, "train", "--resume", "--out", out, "--steps", "8")
    assert code == 0, err
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 8 and saved["config"]["decay_start"] == 4


@pytest.mark.slow
def test_resume_with_fewer_steps_than_a_set_decay_start_names_it(trained, tmp_path, capsys) -> None:
    out = copy_run(trained, tmp_path)
    code, err = run_cli(capsys, "train", "--resume", "--out", out, "--steps", "20", "--decay-start", "15")
    assert code == 0, err
    refused(capsys, "train", "--resume", "--out", out, "--steps", "12", parts=("decay_start=15", "--decay-start"))


# ---- train: workers, devices, sizes, memory ----

@pytest.mark.slow
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


@pytest.mark.slow
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

@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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

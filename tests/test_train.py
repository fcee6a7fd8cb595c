"""Tests for spade_lesson.training.loop: exact resume, NaN stop, Ctrl-C, logs and samples, DDP on CPU (gloo, 2
processes)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from spade_lesson.data import Landscapes
from spade_lesson.training import trainer as trainer_module
from spade_lesson.training.checkpoint_file import (
    check_resumable,
    load_checkpoint,
    load_trainer,
    rng_state,
    set_rng_state,
)
from spade_lesson.training.config import TrainConfig, fast_config
from spade_lesson.training.loop import EpochSampler, NonFiniteLossError, SPADETrainer, plot_losses, train

matplotlib.use("Agg")

@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Any:
    """One CPU thread: tiny convolutions gain nothing from more, and lose a lot on a machine other jobs load."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny(out: Path, **overrides: Any) -> TrainConfig:
    """The fast preset with the style encoder: trains in about a second on a CPU."""
    return fast_config(**{"use_vae": True, "out": str(out), **overrides})


def assert_same_state(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Two checkpoints hold the same step, networks, optimizers and random states (their configs' out differ)."""
    for key in ("step", "semantic_nc", "trainer", "rng"):
        assert_identical(a[key], b[key], key)


def assert_identical(a: Any, b: Any, where: str = "checkpoint") -> None:
    """Every tensor equal bit for bit (torch.equal), every other value equal, recursively."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 4-step run that never stopped: its final checkpoint, and its loss log."""
    out = tmp_path_factory.mktemp("straight")
    result = train(tiny(out))
    return {"result": result, "checkpoint": load_checkpoint(out / "checkpoint.pt"), "out": out}


@pytest.mark.slow
def test_straight_run_writes_checkpoint_log_and_samples(straight):
    result, out = straight["result"], straight["out"]
    assert result.step == 4 and straight["checkpoint"]["step"] == 4
    rows = [json.loads(line) for line in (out / "losses.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [1, 2, 3, 4]
    assert {"D_fake", "D_real", "G_GAN", "G_feat", "G_KLD", "lr_G", "lr_D"} <= rows[0].keys()
    assert [path.name for path in result.samples] == ["step_000002.png", "step_000004.png"]
    with Image.open(result.samples[-1]) as grid:  # 4 rows of label | generated | real, 32 x 32 each
        assert grid.format == "PNG" and grid.size == (3 * 32, 4 * 32) and grid.mode == "RGB"
    assert not list(out.glob(".*.tmp")), "a temporary file was left behind"


@pytest.mark.slow
def test_resume_after_stopping_is_bit_identical(straight, tmp_path):
    train(tiny(tmp_path, steps=2))
    resumed = train(tiny(tmp_path, resume=True))
    assert resumed.step == 4
    assert_same_state(straight["checkpoint"], load_checkpoint(tmp_path / "checkpoint.pt"))
    straight_log = (straight["out"] / "losses.jsonl").read_text()
    assert (tmp_path / "losses.jsonl").read_text() == straight_log


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_that_resumes_exactly(straight, tmp_path, monkeypatch):
    step = SPADETrainer.step
    calls = []

    def step_then_ctrl_c(self, label, image, instance=None):
        losses = step(self, label, image, instance)
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # the handler only flags it: the step in flight finishes
        return losses

    monkeypatch.setattr(SPADETrainer, "step", step_then_ctrl_c)
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(tmp_path))
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 3
    assert signal.getsignal(signal.SIGINT) is handler  # the handler was put back
    monkeypatch.setattr(SPADETrainer, "step", step)
    train(tiny(tmp_path, resume=True))
    assert_same_state(straight["checkpoint"], load_checkpoint(tmp_path / "checkpoint.pt"))


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    calls = []
    real_loss = trainer_module.generator_loss

    def nan_on_third_step(outputs, gan_mode):
        calls.append(1)
        loss = real_loss(outputs, gan_mode)
        return loss * float("nan") if len(calls) == 3 else loss

    monkeypatch.setattr(trainer_module, "generator_loss", nan_on_third_step)
    with pytest.raises(NonFiniteLossError, match=r"loss G_GAN became nan by step 3; stopped\. The last good "
                                                 r"checkpoint is .*checkpoint\.pt"):
        train(tiny(tmp_path, steps=6))
    saved = load_checkpoint(tmp_path / "checkpoint.pt")
    assert saved["step"] == 2
    assert all(torch.isfinite(value).all() for value in saved["trainer"]["G"].values())


@pytest.mark.slow
def test_resume_refuses_other_settings_and_fresh_runs_refuse_old_checkpoints(straight, tmp_path):
    with pytest.raises(ValueError, match="was trained with ngf=4, this run asks ngf=8"):
        train(dataclasses.replace(tiny(straight["out"], ngf=8), resume=True))
    with pytest.raises(ValueError, match=r"checkpoint.pt exists: pass resume=True"):
        train(tiny(straight["out"]))
    with pytest.raises(FileNotFoundError, match="no checkpoint there"):
        train(tiny(tmp_path, resume=True))


def test_unwritable_out_is_one_clear_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match=r"is not a writable folder .*: pick another --out"):
        train(tiny(blocker / "run"))


@pytest.mark.slow
def test_decay_reaches_the_optimizers(tmp_path):
    train(tiny(tmp_path, use_vae=False, decay_start=2, sample_every=100))
    rows = [json.loads(line) for line in (tmp_path / "losses.jsonl").read_text().splitlines()]
    # the row of step s reports the lr used by step s (index s - 1): factors 1, 1, 1, 0.5
    assert [row["lr_G"] / 1e-4 for row in rows] == pytest.approx([1.0, 1.0, 1.0, 0.5])
    assert [row["lr_D"] / 4e-4 for row in rows] == pytest.approx([1.0, 1.0, 1.0, 0.5])


def test_rng_state_round_trip():
    state = rng_state()
    first = (torch.rand(3), np.random.rand(3), __import__("random").random())
    set_rng_state(state)
    second = (torch.rand(3), np.random.rand(3), __import__("random").random())
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1]) and first[2] == second[2]


def test_epoch_sampler_resumes_mid_epoch_and_splits_ranks():
    data = list(range(10))
    whole = EpochSampler(data, batch_size=2, rank=0, world_size=1, seed=5)
    whole.set_position(epoch=1, start_batch=0)
    later = EpochSampler(data, batch_size=2, rank=0, world_size=1, seed=5)
    later.set_position(epoch=1, start_batch=2)
    assert list(later) == list(whole)[4:] and len(later) == 6
    assert sorted(whole) == data
    ranks = [EpochSampler(data, batch_size=2, rank=r, world_size=2, seed=5) for r in (0, 1)]
    assert not set(ranks[0]) & set(ranks[1]) and len(list(ranks[0])) == 4  # 5 each, whole batches only


@pytest.mark.slow
def test_load_trainer_generates_images_in_range(straight):
    trainer, step = load_trainer(straight["out"] / "checkpoint.pt")
    labels = torch.stack([Landscapes(size=32)[i]["label"] for i in range(2)])
    images = trainer.generate(labels)
    assert step == 4 and images.shape == (2, 3, 32, 32)
    assert images.abs().max() <= 1.0


@pytest.mark.slow
def test_plot_losses_draws_every_loss(straight):
    ax = plot_losses(straight["out"] / "losses.jsonl")
    assert sorted(line.get_label() for line in ax.get_lines()) == ["D_fake", "D_real", "G_GAN", "G_KLD", "G_feat"]
    with pytest.raises(FileNotFoundError, match="no loss log there"):
        plot_losses(straight["out"] / "missing.jsonl")


@pytest.mark.slow
def test_perceptual_loss_joins_when_vgg_is_there(tmp_path, monkeypatch):
    from torchvision.models import vgg19

    monkeypatch.setattr(trainer_module, "load_vgg19_features", lambda: vgg19(weights=None).features[:30].eval())
    result = train(tiny(tmp_path, steps=1, lambda_vgg=10.0, use_vae=False))
    assert "G_VGG" in result.losses and result.losses["G_VGG"] > 0


WORKER = textwrap.dedent("""
    import json, os, sys
    import torch
    from spade_lesson.training.loop import TrainConfig, train
    result = train(TrainConfig(**json.loads(sys.argv[1])))
    nets = {key: module.state_dict() for key, module in result.trainer.networks().items()}
    torch.save(nets, os.path.join(sys.argv[2], f"rank{os.environ['RANK']}.pt"))
""")


@pytest.mark.slow
def test_ddp_two_cpu_processes_keep_identical_weights(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    config = dataclasses.asdict(tiny(tmp_path / "run", steps=3))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(script), json.dumps(config), str(tmp_path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for key in ("G", "D", "E", "EMA"):
        # BatchNorm running statistics stay per process on CPU (SyncBatchNorm needs GPUs; DDP re-sends rank 0's
        # at every forward); every weight, and every other buffer, must be equal bit for bit.
        kept = [name for name in rank0[key] if not name.endswith(("running_mean", "running_var"))]
        assert any(name.endswith("weight_orig") for name in kept)
        assert_identical({name: rank0[key][name] for name in kept}, {name: rank1[key][name] for name in kept}, key)
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 3  # written by rank 0
    torch.manual_seed(0)  # the seed train() builds its networks with
    untrained = SPADETrainer(tiny(tmp_path), 9, torch.device("cpu"), (32, 32)).generator.state_dict()
    assert not torch.equal(untrained["conv_img.weight"], rank0["G"]["conv_img.weight"]), "the weights did not train"


class TinyStreetScenes(torch.utils.data.Dataset):
    """2:1 scenes of sky, road and two cars touching each other (one class, two instances), with don't-care pixels."""

    num_classes = 3
    class_names = ["sky", "road", "car"]
    palette = [(90, 150, 230), (110, 110, 110), (200, 30, 30)]

    def __init__(self, height: int = 64, width: int = 128, length: int = 4) -> None:
        self.height, self.width, self.length = height, width, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        label = torch.zeros(self.height, self.width, dtype=torch.long)
        label[self.height // 2:] = 1
        left = 8 + 4 * index
        label[24:40, left:left + 40] = 2  # two cars side by side: one region of class 2 ...
        instance = label * 1000  # ... but two instances (official ids: class * 1000 + k)
        instance[24:40, left + 20:left + 40] += 1
        label[-4:] = 255  # the bottom rows: don't care
        colours = torch.tensor(self.palette + [(0, 0, 0)], dtype=torch.float32)[label.clamp(max=3)]
        image = colours.permute(2, 0, 1) / 127.5 - 1
        return {"label": label, "image": image, "instance": instance}


@pytest.mark.slow
def test_a_tiny_more_2_to_1_configuration_trains_with_dontcare_and_instance_edges(tmp_path, monkeypatch):
    config = tiny(tmp_path, size=128, aspect_ratio=2.0, num_upsampling_layers="more", contain_dontcare_label=True,
                  no_instance=False, steps=2, use_vae=False, num_D=1)
    seen = []
    original = SPADETrainer.semantic

    def record(self, label, instance=None):
        seen.append(instance)
        return original(self, label, instance)

    monkeypatch.setattr(SPADETrainer, "semantic", record)
    data = TinyStreetScenes()
    result = train(config, data=data, progress=False)
    monkeypatch.undo()
    trainer = result.trainer
    assert result.step == 2 and all(math.isfinite(value) for value in result.losses.values())
    assert trainer.semantic_nc == 5 and trainer.generator.output_size == (64, 128)  # 3 classes + don't care + edges
    assert all(instance is not None for instance in seen)  # the dataset's instance maps reached the input
    item = data[0]
    m = trainer.semantic(item["label"][None], item["instance"][None]).dense()  # a SegMap (one_hot_lookup)
    assert torch.equal(m[0, 3], (item["label"] == 255).float())
    assert m[0, 4, 30, 8 + 19:8 + 21].tolist() == [1.0, 1.0]  # the edge between the two cars, which one-hot lacks
    with Image.open(result.samples[-1]) as grid:
        assert grid.size == (3 * 128, 4 * 64)
    saved = load_checkpoint(tmp_path / "checkpoint.pt")
    assert (saved["semantic_nc"], saved["label_nc"]) == (5, 3)
    loaded, step = load_trainer(tmp_path / "checkpoint.pt")
    assert step == 2 and loaded.generate(item["label"][None], instance=item["instance"][None]).shape == (1, 3, 64, 128)


def test_data_of_another_shape_than_the_config_is_one_line(tmp_path):
    with pytest.raises(ValueError, match=r"the dataset's images are 64 x 128 but size=128, aspect_ratio=1.0 make "
                                         r"128 x 128: load the data at that size"):
        train(tiny(tmp_path, size=128), data=TinyStreetScenes(), progress=False)


@pytest.mark.slow
def test_checkpoints_from_before_the_new_settings_resume_as_they_were_trained(straight, tmp_path):
    saved = dict(straight["checkpoint"]["config"])
    for name in ("init_type", "init_variance", "num_upsampling_layers", "aspect_ratio", "contain_dontcare_label",
                 "no_instance"):
        del saved[name]  # as a checkpoint written before these settings existed
    config = tiny(straight["out"], resume=True)
    check_resumable(saved, config, tmp_path)  # their defaults are how it was trained
    check_resumable(saved, dataclasses.replace(config, init_type="orthogonal"), tmp_path)  # init: only at step 0
    with pytest.raises(ValueError, match="was trained with no_instance=True, this run asks no_instance=False"):
        check_resumable(saved, dataclasses.replace(config, no_instance=False), tmp_path)


@pytest.mark.slow
def test_random_crops_and_flips_are_drawn_anew_not_cached(tmp_path, monkeypatch):
    import spade_lesson.training.loop as loop

    sys.path.insert(0, str(Path(__file__).parent))
    from official_layouts import cocostuff

    def refuse(dataset):
        raise AssertionError("a memory cache would freeze the first random crop and flip")

    monkeypatch.setattr(loop, "MemoryCache", refuse)
    config = tiny(tmp_path, dataset=str(cocostuff(tmp_path / "coco")), size=32, steps=1, batch_size=2,
                  preprocess_mode="resize_and_crop", load_size=40, flip=True, use_vae=False)
    assert train(config, progress=False).step == 1


@pytest.mark.slow
def test_a_run_stopped_by_its_time_budget_says_so_in_plain_lines(tmp_path, capsys):
    result = train(tiny(tmp_path, steps=1000, max_seconds=1e-6, log_every=1))
    printed = capsys.readouterr().out
    assert result.step == 1 and "\r" not in printed
    assert "stopped at step 1 of 1000: max_seconds=1e-06 reached" in printed
    assert printed.rstrip().splitlines()[-1].startswith(f"{tmp_path.name}: step 1/1 (100%), ")


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


@pytest.mark.slow
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


@pytest.mark.parametrize("data, message", [
    ([1, 2, 3], "train\\(data=...\\): a list has no num_classes, class_names, palette"),
])
def test_training_data_that_is_not_a_dataset_is_one_line(tmp_path, data, message):
    with pytest.raises(ValueError, match=message):
        train(fast_config(out=str(tmp_path)), data=data, progress=False)


def test_a_generator_whose_forward_takes_no_semantic_and_z_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="generator=Linear: pass an nn.Module whose forward takes \\(semantic, z=None"):
        train(fast_config(out=str(tmp_path)), generator=torch.nn.Linear(3, 3), progress=False)

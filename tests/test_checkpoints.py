"""Loading checkpoints for sampling: trainer checkpoints, their slim copies, and the checkpoint the package ships."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
import torch

from spade_lesson.checkpoints import SHIPPED, load_networks, pick_checkpoint, read_checkpoint, slim_checkpoint
from spade_lesson.data import Landscapes, one_hot
from spade_lesson.training.checkpoint_file import load_checkpoint, load_trainer, save_checkpoint, saved_config
from spade_lesson.training.config import fast_config
from spade_lesson.training.loop import SPADETrainer, train

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
MAX_SHIPPED_BYTES = 20 * 2**20
# A one-step run (32 x 32, ngf 1) written by version 0.1.0's training loop, before it was split into config, trainer
# and checkpoint file: checkpoints of that format must still load, sample and resume.
CHECKPOINT_V0_1_0 = ROOT / "tests" / "data" / "checkpoint_v0_1_0.pt"


@pytest.fixture(scope="module")
def trainer_checkpoint(tmp_path_factory) -> tuple[Path, SPADETrainer, Landscapes]:
    """A one-step VAE trainer at 32 x 32 saved by the trainer's own save_checkpoint."""
    torch.manual_seed(0)
    config = fast_config(use_vae=True, num_D=1, steps=1)
    dataset = Landscapes(size=32, length=2)
    trainer = SPADETrainer(config, dataset.num_classes, torch.device("cpu"), (32, 32))
    trainer.step(torch.stack([dataset[i]["label"] for i in range(2)]),
                 torch.stack([dataset[i]["image"] for i in range(2)]))
    path = tmp_path_factory.mktemp("run") / "checkpoint.pt"
    save_checkpoint(path, trainer, step=1)
    return path, trainer, dataset


@pytest.mark.slow
def test_load_networks_rebuilds_the_trainers_ema_generator_and_encoder(trainer_checkpoint):
    path, trainer, dataset = trainer_checkpoint
    nets = load_networks(path)
    assert nets.step == 1 and nets.config == dataclasses.asdict(trainer.config) and nets.path == path
    assert not nets.generator.training and not nets.encoder.training
    assert not any(p.requires_grad for p in nets.generator.parameters())
    label, image = dataset[1]["label"][None], dataset[1]["image"][None]
    z = torch.randn(1, nets.generator.z_dim)
    with torch.no_grad():
        ours = nets.generator(one_hot(label, dataset.num_classes), z)
        mu, _ = nets.encoder(image)
    assert torch.allclose(ours, trainer.generate(label, z=z), atol=1e-6)
    trainer.encoder.eval()
    with torch.no_grad():
        assert torch.allclose(mu, trainer.encoder(image)[0], atol=1e-6)


@pytest.mark.slow
def test_a_slim_copy_keeps_only_what_sampling_needs(trainer_checkpoint, tmp_path):
    path, _, dataset = trainer_checkpoint
    slim = slim_checkpoint(path, tmp_path / "slim.pt")
    state = torch.load(slim, weights_only=True)
    assert set(state["trainer"]) == {"EMA", "E"} and "rng" not in state
    assert slim.stat().st_size < path.stat().st_size / 2
    assert slim.stat().st_mode & 0o777 == 0o644
    z = torch.randn(1, 256)
    semantic = one_hot(dataset[0]["label"][None], dataset.num_classes)
    with torch.no_grad():
        assert torch.equal(load_networks(slim).generator(semantic, z), load_networks(path).generator(semantic, z))
    assert [p.name for p in tmp_path.iterdir()] == ["slim.pt"]  # no temporary file left behind


@pytest.mark.slow
def test_a_checkpoint_written_by_version_0_1_0_loads_samples_and_resumes(tmp_path):
    trainer, step = load_trainer(CHECKPOINT_V0_1_0)
    nets = load_networks(CHECKPOINT_V0_1_0)
    label = torch.stack([Landscapes(size=32)[i]["label"] for i in range(2)])
    with torch.no_grad():
        assert torch.allclose(nets.generator(one_hot(label, 9)), trainer.generate(label), atol=1e-6)
    assert step == 1
    (tmp_path / "checkpoint.pt").write_bytes(CHECKPOINT_V0_1_0.read_bytes())
    saved = saved_config(load_checkpoint(CHECKPOINT_V0_1_0))
    config = dataclasses.replace(saved, out=str(tmp_path), steps=2, resume=True)
    assert train(config, progress=False).step == 2 and load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 2


@pytest.mark.slow
def test_pick_checkpoint_prefers_a_training_run_and_falls_back_to_the_shipped_one(trainer_checkpoint, tmp_path):
    path = trainer_checkpoint[0]
    assert pick_checkpoint(tmp_path / "missing.pt", path) == path
    assert pick_checkpoint(tmp_path / "missing.pt") == SHIPPED


def test_bad_checkpoints_get_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint there"):
        read_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable spade-lesson checkpoint"):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"G": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a spade_lesson.training.loop checkpoint"):
        read_checkpoint(tmp_path / "other.pt")


@pytest.mark.slow
def test_the_shipped_checkpoint_is_small_safe_to_load_and_documented():
    assert SHIPPED.is_file() and SHIPPED.stat().st_size <= MAX_SHIPPED_BYTES
    torch.load(SHIPPED, weights_only=True)
    nets = load_networks()
    metrics = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert metrics["steps"] == nets.step and metrics["config"] == nets.config
    assert {"command", "final_losses", "seconds", "device", "bytes"} <= metrics.keys()
    assert metrics["bytes"] == SHIPPED.stat().st_size
    assert metrics["command"] in (SHIPPED.parent / "README.md").read_text()
    generated = nets.generator(one_hot(Landscapes(size=nets.config["size"], length=1)[0]["label"][None],
                                       nets.generator.semantic_nc), torch.zeros(1, nets.generator.z_dim))
    assert generated.shape == (1, 3, nets.config["size"], nets.config["size"])


def test_the_shipped_checkpoint_is_package_data():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = [p for pattern in package_data["spade_lesson"] for p in (ROOT / "spade_lesson").glob(pattern)]
    assert {SHIPPED, SHIPPED.with_suffix(".json"), SHIPPED.parent / "README.md"} <= set(shipped)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_load_networks_on_a_device_this_machine_lacks_is_one_line():
    with pytest.raises(ValueError, match="device='cuda' is not available"):
        load_networks(SHIPPED, device="cuda")


def test_a_picture_passed_as_a_checkpoint_says_what_to_pass(tmp_path):
    from spade_lesson.training.checkpoint_file import load_checkpoint

    picture = tmp_path / "a.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match="a.png: not a readable spade-lesson checkpoint .*: pass the checkpoint.pt") \
            as error:
        load_checkpoint(picture)
    assert "delete" not in str(error.value)

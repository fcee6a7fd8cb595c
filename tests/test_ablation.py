"""spade_lesson.ablation: matched baselines in the SPADE trainer, valid records, resuming, the command's errors."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from spade_lesson import ablation
from spade_lesson.ablation import (COMMITTED, MODELS, AblationConfig, build_generator, check_resumed_models, gan_config,
                                   run_ablation, summarize, train_model)
from spade_lesson.baselines import BaselineGenerator, count_parameters
from spade_lesson.cli import main
from spade_lesson.data import Landscapes
from spade_lesson.generator import SPADEGenerator
from spade_lesson.train import SPADETrainer

TINY = {"size": 64, "steps": 2, "batch_size": 2, "ngf": 2, "spade_hidden": 4, "eval_images": 2, "segmenter_steps": 1}


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def tiny_data(monkeypatch):
    """load_dataset gives 2-item Landscapes splits (train and val differ); no Inception download is tried."""
    def load(name, root="data", split="train", size=128):
        return Landscapes(size=size, length=2, seed={"train": 3, "val": 4}[split])

    monkeypatch.setattr(ablation, "load_dataset", load)
    monkeypatch.setattr(ablation, "load_inception", lambda: None)


@pytest.mark.parametrize("model", ["batchnorm", "instancenorm"])
def test_baselines_are_parameter_matched_and_trained_by_the_same_step(model) -> None:
    config = gan_config(AblationConfig(size=64, ngf=4, spade_hidden=8, device="cpu"), seed=0)
    spade = SPADETrainer(config, 9, generator=build_generator("spade", config, 9))
    trainer = SPADETrainer(config, 9, generator=build_generator(model, config, 9))
    assert isinstance(spade.generator, SPADEGenerator) and isinstance(trainer.generator, BaselineGenerator)
    ratio = count_parameters(trainer.generator) / count_parameters(spade.generator)
    assert 0.85 < ratio < 1.15, ratio
    assert count_parameters(trainer.discriminator) == count_parameters(spade.discriminator)
    before = [p.detach().clone() for p in trainer.generator.parameters()]
    ema_before = [p.clone() for p in trainer.ema.parameters()]
    label = torch.randint(0, 9, (2, 64, 64))
    losses = trainer.step(label, torch.rand(2, 3, 64, 64) * 2 - 1)
    assert {"D_fake", "D_real", "G_GAN", "G_feat"} <= set(losses)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(ema_before, trainer.ema.parameters()))
    assert trainer.generate(label).shape == (2, 3, 64, 64)
    with pytest.raises(ValueError, match="takes no style z"):
        SPADETrainer(dataclasses.replace(config, use_vae=True), 9, generator=build_generator(model, config, 9))


def test_each_model_trains_through_the_training_loop_and_resumes_its_checkpoint(tmp_path) -> None:
    data = Landscapes(size=64, length=2)
    config = gan_config(AblationConfig(**TINY, work=str(tmp_path), device="cpu"), seed=0)
    first = train_model("batchnorm", config, data, torch.device("cpu"), progress=False)
    saved = torch.load(tmp_path.glob("*/seed0/batchnorm/checkpoint.pt").__next__(), weights_only=True)
    assert saved["step"] == TINY["steps"] and isinstance(first.generator, BaselineGenerator)
    again = train_model("batchnorm", config, data, torch.device("cpu"), progress=False)  # finished: only loaded
    assert again.steps_done == TINY["steps"]
    assert all(torch.equal(a, b) for a, b in zip(first.ema.state_dict().values(), again.ema.state_dict().values()))


def test_a_tiny_ablation_writes_one_valid_record_per_run_and_a_figure(tiny_data, tmp_path) -> None:
    config = AblationConfig(**TINY, seeds=(0, 1), out=str(tmp_path / "results"), work=str(tmp_path / "work"),
                            device="cpu")
    document = run_ablation(config, progress=False)
    path = tmp_path / "results" / "ablation_landscapes.json"
    assert json.loads(path.read_text()) == document
    assert (tmp_path / "results" / "ablation_landscapes.png").stat().st_size > 1000
    runs = document["runs"]
    assert sorted((run["model"], run["seed"]) for run in runs) == sorted(
        (model, seed) for model in ("spade", "batchnorm", "instancenorm") for seed in (0, 1))
    for run in runs:
        assert {"model", "seed", "miou", "pixel_acc", "params", "steps", "device"} <= set(run)
        assert 0.0 <= run["miou"] <= 1.0 and 0.0 <= run["pixel_acc"] <= 1.0
        assert run["steps"] == 2 and run["device"] == "cpu" and run["params"] > 0 and run["fid"] is None
    assert 0.0 <= document["ceiling"]["miou"] <= 1.0
    assert document["settings"]["steps"] == 2


def test_finished_runs_are_skipped_and_other_settings_refused(tiny_data, tmp_path, monkeypatch) -> None:
    options = {**TINY, "models": ("spade",), "out": str(tmp_path), "work": str(tmp_path / "work"), "device": "cpu"}
    first = run_ablation(AblationConfig(**options, seeds=(0,)), progress=False)
    trained = []
    original = ablation.train_model
    monkeypatch.setattr(ablation, "train_model", lambda model, config, *rest, **kw: (
        trained.append((model, config.seed)), original(model, config, *rest, **kw))[1])
    second = run_ablation(AblationConfig(**options, seeds=(0, 1)), progress=False)
    assert trained == [("spade", 1)]
    assert second["runs"][0] == first["runs"][0] and len(second["runs"]) == 2
    with pytest.raises(ValueError, match="steps=2, this run asks steps=3"):
        run_ablation(AblationConfig(**{**options, "steps": 3}, seeds=(0,)), progress=False)
    path = tmp_path / "ablation_landscapes.json"
    document = json.loads(path.read_text())
    document["runs"][0]["params"] += 1  # as if these runs were made by an older version of the generator
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="its spade runs have .* generator parameters but this code builds"):
        run_ablation(AblationConfig(**options, seeds=(0, 1)), progress=False)


def test_summary_is_mean_and_sample_std_over_seeds() -> None:
    runs = [{"model": "spade", "miou": m, "pixel_acc": a, "params": 10} for m, a in ((0.5, 0.8), (0.7, 0.9))]
    row = summarize(runs)["spade"]
    assert row["miou_mean"] == pytest.approx(0.6) and row["miou_std"] == pytest.approx(0.1414213562)
    assert row["pixel_acc_mean"] == pytest.approx(0.85) and row["seeds"] == 2


@pytest.mark.parametrize(("argv", "message"), [
    (["--size", "48"], "size=48"),
    (["--size", "32"], "use size >= 64"),
    (["--seeds", "0"], "--seeds 0"),
    (["--steps", "0"], "steps=0"),
])
def test_the_command_reports_bad_options_in_one_line(argv, message, capsys) -> None:
    assert main(["ablate", *argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_the_command_runs_the_ablation_with_its_options(tiny_data, tmp_path, capsys) -> None:
    argv = ["--size", "64", "--steps", "1", "--batch", "2", "--ngf", "2", "--spade-hidden", "4", "--seeds", "1",
            "--models", "spade", "--eval-images", "2", "--segmenter-steps", "1", "--device", "cpu",
            "--out", str(tmp_path), "--work", str(tmp_path / "work")]
    assert main(["ablate", *argv]) == 0
    printed = capsys.readouterr().out
    assert "spade: mIoU" in printed and f"wrote {tmp_path / 'ablation_landscapes.json'}" in printed
    assert json.loads((tmp_path / "ablation_landscapes.json").read_text())["settings"]["batch_size"] == 2


def test_the_committed_results_were_made_by_this_code_and_meet_the_claim() -> None:
    document = json.loads((COMMITTED / "ablation_landscapes.json").read_text())
    assert (COMMITTED / "ablation_landscapes.png").stat().st_size > 10_000
    config = AblationConfig(**document["settings"], device="cpu")
    assert config.settings() == AblationConfig().settings()  # the defaults of spade-lesson ablate
    runs = document["runs"]
    assert sorted((run["model"], run["seed"]) for run in runs) == sorted(
        (model, seed) for model in MODELS for seed in (0, 1, 2))
    check_resumed_models(runs, config, Landscapes(size=config.size, length=1), COMMITTED / "ablation_landscapes.json")  # the generators' sizes are today's
    summary = summarize(runs)
    largest_std = max(row["miou_std"] for row in summary.values())
    for baseline in ("batchnorm", "instancenorm"):
        assert summary["spade"]["miou_mean"] - summary[baseline]["miou_mean"] > 2 * largest_std

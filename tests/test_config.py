"""spade_lesson.training.config: one-line errors naming the field, the presets, and help text on every field."""

from __future__ import annotations

import dataclasses

import pytest

from spade_lesson.training.config import TrainConfig, course_config, cpu_config, fast_config


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="gan_mode='wgan': choose one of hinge, ls, original"):
        TrainConfig(gan_mode="wgan")
    with pytest.raises(ValueError, match="size=48 with aspect_ratio=1.0 asks for 48 x 48 images.*multiples of 32"):
        TrainConfig(size=48)
    with pytest.raises(ValueError, match="size=128 with aspect_ratio=2.0 asks for 64 x 128 images, but with "
                                         "num_upsampling_layers='most'.* 7 times.*multiples of 128"):
        TrainConfig(size=128, aspect_ratio=2.0, num_upsampling_layers="most")
    with pytest.raises(ValueError, match="aspect_ratio=0.0 must be a positive number"):
        TrainConfig(aspect_ratio=0.0)
    with pytest.raises(ValueError, match="num_upsampling_layers='many' is not known: use one of normal, more, most"):
        TrainConfig(num_upsampling_layers="many")
    with pytest.raises(ValueError, match="init_type='uniform' is not known"):
        TrainConfig(init_type="uniform")
    with pytest.raises(ValueError, match="init_variance=-1.0 must be a positive number"):
        TrainConfig(init_variance=-1.0)
    with pytest.raises(ValueError, match="decay_start=20 must be between 0 and steps=10"):
        TrainConfig(steps=10, decay_start=20)
    with pytest.raises(ValueError, match="amp='fp8'"):
        TrainConfig(amp="fp8")


def test_the_papers_cityscapes_shape_and_the_official_init_by_default():
    config = TrainConfig(size=512, aspect_ratio=2.0, num_upsampling_layers="more")
    assert config.image_size == (256, 512)  # the paper's Cityscapes: 512 x 256
    assert (TrainConfig.init_type, TrainConfig.init_variance) == ("xavier", 0.02)
    assert (TrainConfig.contain_dontcare_label, TrainConfig.no_instance) == (False, True)  # as checkpoints before them


def test_presets_decay_over_their_second_half():
    assert course_config().decay_start == 3000 and cpu_config(steps=10).decay_start == 5
    assert cpu_config(decay_start=None).decay_start is None
    assert fast_config().decay_start == fast_config().steps // 2


def test_the_fast_preset_is_small_and_takes_overrides():
    config = fast_config(use_vae=True, out="somewhere")
    assert config.size == 32 and config.lambda_vgg == 0.0 and config.device == "cpu"
    assert config.use_vae and config.out == "somewhere"


def test_every_setting_says_what_it_does():
    for field in dataclasses.fields(TrainConfig):
        assert len(field.metadata.get("help", "")) > 10, field.name


def test_preprocessing_follows_the_official_options():
    assert TrainConfig().preprocess() is None  # the plain resize, as before these options existed
    crop = TrainConfig(size=256, preprocess_mode="resize_and_crop", load_size=286, flip=True).preprocess()
    assert (crop.mode, crop.crop_size, crop.load, crop.flip) == ("resize_and_crop", 256, 286, True)
    with pytest.raises(ValueError, match=r"load_size=200 is smaller than size=256"):
        TrainConfig(size=256, load_size=200)
    with pytest.raises(ValueError, match=r"num_classes=256: labels hold ids 0-254"):
        TrainConfig(num_classes=256)


def test_the_cpu_preset_has_pytorchs_init_higher_rates_stronger_feature_matching_and_bf16_where_the_cpu_has_it(
        monkeypatch):
    import spade_lesson.training.config as config_module

    config = cpu_config()
    assert (config.init_type, config.lr_G, config.lr_D) == ("none", 4e-4, 1.6e-3)  # TTUR's 1:4 ratio kept
    assert config.lambda_feat == 40.0 and TrainConfig().lambda_feat == 10.0  # the paper's 10 stays the default
    for has_bf16, amp in ((True, "bf16"), (False, "auto")):
        monkeypatch.setattr(config_module, "cpu_has_bf16", lambda flag=has_bf16: flag)
        assert config_module.cpu_config().amp == amp
    assert course_config().init_type == "xavier"  # the GPU preset is unmeasured: the official recipe


def test_cpu_bf16_is_read_from_the_cpu_flags(tmp_path):
    from spade_lesson.training.config import cpu_has_bf16

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n")
    assert cpu_has_bf16(cpuinfo)
    cpuinfo.write_text("flags\t\t: fpu avx2 amx_tile amx_bf16\n")
    assert cpu_has_bf16(cpuinfo)
    cpuinfo.write_text("flags\t\t: fpu avx2 avx512f\n")
    assert not cpu_has_bf16(cpuinfo)
    assert not cpu_has_bf16(tmp_path / "missing")  # no /proc (macOS, Windows): float32


@pytest.mark.parametrize("settings, message", [
    ({"steps": 2.5}, r"steps=2.5 \(--steps\) must be a whole number"),
    ({"size": "64"}, r"size='64' \(--size\) must be a whole number"),
    ({"batch_size": True}, r"batch_size=True \(--batch\) must be a whole number"),
    ({"lambda_feat": -10.0}, r"lambda_feat=-10.0 \(--lambda-feat\) must be at least 0"),
    ({"lambda_feat": float("nan")}, r"lambda_feat=nan \(--lambda-feat\) must be a finite number"),
    ({"lambda_kld": float("inf")}, r"lambda_kld=inf \(--lambda-kld\) must be a finite number"),
    ({"max_seconds": float("nan")}, r"max_seconds=nan \(--max-minutes\) must be a finite number"),
    ({"lr_G": float("nan")}, r"lr_G=nan \(--lr-G\) must be a finite number"),
    ({"lr_D": 0.0}, r"lr_D=0.0 \(--lr-D\) must be positive"),
    ({"beta2": 1.0}, r"beta2=1.0 \(--beta2\) must be below 1"),
    ({"seed": -1}, r"seed=-1: pass a whole number from 0 to 2\*\*32 - 1"),
    ({"seed": 2**40}, r"seed=1099511627776: pass a whole number"),
    ({"dataset": None}, r"dataset=None \(--dataset\) must be a str"),
    ({"aspect_ratio": 1e-300}, r"aspect_ratio=1e-300 \(--aspect-ratio\): width / height must be between"),
])
def test_every_setting_is_checked_for_its_type_and_range(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings)


def test_the_command_line_names_the_flag_of_a_bad_value(capsys):
    from spade_lesson.cli import main

    assert main(["train", "--lr-G", "nan", "--steps", "1"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "(--lr-G) must be a finite number" in error

"""Tests for spade_lesson.models.official: parity with the official NVlabs/SPADE networks, options, loading,
sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from spade_lesson.cli import main
from spade_lesson.layers.onehot import SegMap
from spade_lesson.models import official
from spade_lesson.models.encoder import ConvEncoder
from spade_lesson.models.generator import SPADEGenerator

REFERENCE = Path(__file__).parent / "data" / "official_spade_facades_small.pt"


@pytest.fixture(scope="module")
def reference() -> dict:
    """The official test vectors (see /work/shared/reference/README.md for how they were made)."""
    return torch.load(REFERENCE, weights_only=True)


def _semantic(reference: dict) -> torch.Tensor:
    """The official G / D input: the one-hot label over label_nc channels."""
    return F.one_hot(reference["inputs"]["label"], reference["options"]["label_nc"]).permute(0, 3, 1, 2).float()


def _write_opt_txt(options: dict, path: Path) -> Path:
    """Write options the way the official save_options does ("{:>25}: {:<30}{}" with default comments)."""
    lines = []
    for name, value in sorted({**options, "name": "facades_small", "gpu_ids": "-1"}.items()):
        comment = "\t[default: 64]" if name in ("ngf", "ndf") else ""
        lines.append(f"{name:>25}: {str(value):<30}{comment}\n")
    path.write_text("".join(lines))
    return path


@pytest.mark.slow
def test_generator_reproduces_the_official_fake_image(reference: dict) -> None:
    generator = official.load("G", reference["G_state_dict"], reference["options"])
    with torch.no_grad():
        fake = generator(_semantic(reference))
    assert fake.shape == reference["outputs"]["fake"].shape
    assert (fake - reference["outputs"]["fake"]).abs().max().item() < 1e-5


@pytest.mark.slow
def test_discriminator_reproduces_the_official_logits_and_feature_shapes(reference: dict) -> None:
    discriminator = official.load("D", reference["D_state_dict"], reference["options"])
    with torch.no_grad():
        outputs = discriminator(torch.cat([_semantic(reference), reference["outputs"]["fake"]], dim=1))
    assert len(outputs) == len(reference["outputs"]["D_logits"])
    expected = zip(reference["outputs"]["D_logits"], reference["outputs"]["D_feature_shapes"])
    for scale, (logits, shapes) in zip(outputs, expected):
        assert [list(feature.shape) for feature in scale] == [list(shape) for shape in shapes]
        assert (scale[-1] - logits).abs().max().item() < 1e-5


@pytest.mark.usefixtures("lookups_always")  # tests/conftest.py
@pytest.mark.slow
def test_the_lookup_path_reproduces_the_official_networks(reference: dict) -> None:
    segmap = SegMap.from_labels(reference["inputs"]["label"], reference["options"]["label_nc"])
    generator = official.load("G", reference["G_state_dict"], reference["options"])
    discriminator = official.load("D", reference["D_state_dict"], reference["options"])
    with torch.no_grad():
        fake = generator(segmap)
        logits = [scale[-1] for scale in discriminator(segmap.with_extra(reference["outputs"]["fake"]))]
    assert (fake - reference["outputs"]["fake"]).abs().max().item() < 1e-5
    for scale, expected in zip(logits, reference["outputs"]["D_logits"]):
        assert (scale - expected).abs().max().item() < 1e-5


@pytest.mark.slow
def test_load_returns_eval_mode_networks(reference: dict) -> None:
    generator = official.load("G", reference["G_state_dict"], reference["options"])
    assert not any(module.training for module in generator.modules())


@pytest.mark.slow
def test_opt_txt_gives_the_same_networks(reference: dict, tmp_path: Path) -> None:
    opt_txt = _write_opt_txt(reference["options"], tmp_path / "opt.txt")
    parsed = official.read_options(opt_txt)
    assert parsed["ngf"] == 8 and parsed["aspect_ratio"] == 1.0 and parsed["no_instance"] is True
    assert parsed["norm_G"] == "spectralspadebatch3x3" and parsed["name"] == "facades_small"
    for kind in ("G", "D", "E"):
        assert official.network_arguments(kind, opt_txt) == official.network_arguments(kind, reference["options"])
    official.load("G", reference["G_state_dict"], opt_txt)


def test_read_options_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="opt.txt"):
        official.read_options(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("label_nc: 12\nthis is not an option line\n")
    with pytest.raises(ValueError, match="line 2"):
        official.read_options(bad)


def test_semantic_nc_and_discriminator_input_follow_the_official_options() -> None:
    options = {"label_nc": 35, "contain_dontcare_label": True, "no_instance": False}
    assert official.resolve_options(options)["semantic_nc"] == 37
    assert official.network_arguments("G", options)["semantic_nc"] == 37
    assert official.network_arguments("D", options)["in_channels"] == 40
    assert official.network_arguments("G", {"label_nc": 3, "no_instance": True})["semantic_nc"] == 3


@pytest.mark.parametrize(("norm_G", "expected"), [
    ("spectralspadesyncbatch3x3", {"spectral": True, "param_free_norm": "syncbatch", "kernel_size": 3}),
    ("spadeinstance5x5", {"spectral": False, "param_free_norm": "instance", "kernel_size": 5}),
    ("spectralspadebatch3x3", {"spectral": True, "param_free_norm": "batch", "kernel_size": 3}),
])
def test_parse_norm_G(norm_G: str, expected: dict) -> None:
    assert official.parse_norm_G(norm_G) == expected


def test_bad_norms_and_kinds_are_clear() -> None:
    with pytest.raises(ValueError, match="not a SPADE norm"):
        official.parse_norm_G("spectralinstance")
    assert official.parse_nonspade_norm("spectralsync_batch", "norm_D") == {"spectral": True, "norm": "syncbatch"}
    assert official.parse_nonspade_norm("instance", "norm_E") == {"spectral": False, "norm": "instance"}
    with pytest.raises(ValueError, match="norm_D='spectralgroup'"):
        official.parse_nonspade_norm("spectralgroup", "norm_D")
    with pytest.raises(ValueError, match="G, D, E"):
        official.network_arguments("F", {"label_nc": 3})
    with pytest.raises(ValueError, match="label_nc='twelve' must be an integer from 1 to 4096"):
        official.resolve_options({"label_nc": "twelve"})


@pytest.mark.slow
def test_general_options_build_matching_networks() -> None:
    options = {"label_nc": 4, "no_instance": True, "ngf": 4, "crop_size": 256, "aspect_ratio": 2.0,
               "num_upsampling_layers": "more", "norm_G": "spadeinstance5x5", "use_vae": True, "z_dim": 32}
    generator = SPADEGenerator(**official.network_arguments("G", options))
    assert generator.output_size == (128, 256)
    assert generator.fc.in_features == 32 and generator.head_0.norm_0.mlp_gamma.kernel_size == (5, 5)
    reloaded = official.load("G", generator.state_dict(), options)
    assert all(torch.equal(reloaded.state_dict()[key], value) for key, value in generator.state_dict().items())


def test_encoder_loads_by_official_names() -> None:
    encoder = ConvEncoder(ngf=2, z_dim=256)
    loaded = official.load("E", encoder.state_dict(), {"label_nc": 3, "ngf": 2, "use_vae": True})
    assert set(loaded.state_dict()) == set(encoder.state_dict())


def test_key_mismatches_are_listed(reference: dict) -> None:
    state = dict(reference["G_state_dict"])
    state.pop("conv_img.bias")
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"missing keys \[conv_img.bias\], unexpected keys \[extra.weight\]"):
        official.load("G", state, reference["options"])
    with pytest.raises(ValueError, match="the options describe an official G of .* parameters but the checkpoint"):
        official.load("G", reference["G_state_dict"], {**reference["options"], "ngf": 16})
    with pytest.raises(ValueError, match="does not fit the options"):  # as many values, other shapes
        official.load("G", reference["G_state_dict"], {**reference["options"], "ngf": 2})


def test_checkpoint_file_errors(tmp_path: Path, reference: dict) -> None:
    with pytest.raises(FileNotFoundError, match="latest_net_G.pth"):
        official.load("G", tmp_path / "missing.pth", reference["options"])
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt"):
        official.load("G", corrupt, reference["options"])
    not_state = tmp_path / "list.pth"
    torch.save([1, 2], not_state)
    with pytest.raises(ValueError, match="not a state dict"):
        official.load("G", not_state, reference["options"])


@pytest.mark.slow
def test_sample_writes_the_official_generators_images(reference: dict, tmp_path: Path) -> None:
    checkpoint = tmp_path / "latest_net_G.pth"
    torch.save(reference["G_state_dict"], checkpoint)
    opt_txt = _write_opt_txt(reference["options"], tmp_path / "opt.txt")
    labels = []
    for i, label in enumerate(reference["inputs"]["label"]):
        labels.append(tmp_path / f"label_{i}.png")
        Image.fromarray(label.numpy().astype(np.uint8)).save(labels[-1])
    out = tmp_path / "out"
    code = main(["sample", "--checkpoint", str(checkpoint), "--opt", str(opt_txt), "--labels",
                                 *map(str, labels), "--out", str(out)])
    assert code == 0
    assert sorted(path.name for path in out.iterdir()) == ["label_0.png", "label_1.png"]
    expected = ((reference["outputs"]["fake"] + 1) * 127.5).permute(0, 2, 3, 1).numpy()
    for i in range(2):
        with Image.open(out / f"label_{i}.png") as png:
            written = np.asarray(png.convert("RGB")).astype(np.float32)
        assert np.abs(written - expected[i]).max() <= 0.51


@pytest.mark.slow
def test_sample_with_instance_maps(tmp_path: Path) -> None:
    options = {"label_nc": 3, "no_instance": False, "ngf": 2, "crop_size": 32, "norm_G": "spectralspadebatch3x3"}
    generator = SPADEGenerator(**official.network_arguments("G", options))
    assert generator.semantic_nc == 4
    torch.save(generator.state_dict(), tmp_path / "G.pth")
    opt_txt = _write_opt_txt(options, tmp_path / "opt.txt")
    label = np.random.default_rng(0).integers(0, 3, (48, 48), dtype=np.uint8)
    Image.fromarray(label).save(tmp_path / "a.png")
    Image.fromarray((np.arange(48 * 48).reshape(48, 48) // 300).astype(np.uint16)).save(tmp_path / "a_inst.png")
    common = ["--checkpoint", str(tmp_path / "G.pth"), "--opt", str(opt_txt), "--labels", str(tmp_path / "a.png")]
    with_instances = ["--instances", str(tmp_path / "a_inst.png"), "--out", str(tmp_path / "x")]
    assert main(["sample", *common, *with_instances]) == 0
    assert main(["sample", *common, "--out", str(tmp_path / "y")]) == 0
    with Image.open(tmp_path / "x" / "a.png") as written:
        assert written.size == (32, 32)


@pytest.mark.slow
def test_sample_errors_are_one_line(reference: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    opt_txt = _write_opt_txt(reference["options"], tmp_path / "opt.txt")
    rgb = tmp_path / "rgb.png"
    Image.new("RGB", (8, 8)).save(rgb)
    assert main(["sample", "--checkpoint", str(tmp_path / "nope.pth"), "--opt", str(opt_txt),
                                 "--labels", str(rgb), "--out", str(tmp_path / "out")]) == 1
    assert "checkpoint" in capsys.readouterr().err
    torch.save(reference["G_state_dict"], tmp_path / "G.pth")
    assert main(["sample", "--checkpoint", str(tmp_path / "G.pth"), "--opt", str(opt_txt),
                                 "--labels", str(rgb), "--out", str(tmp_path / "out")]) == 1
    assert "single-channel" in capsys.readouterr().err
    too_big = tmp_path / "ids.png"
    Image.fromarray(np.full((8, 8), 40, dtype=np.uint8)).save(too_big)
    assert main(["sample", "--checkpoint", str(tmp_path / "G.pth"), "--opt", str(opt_txt),
                                 "--labels", str(too_big), "--out", str(tmp_path / "out")]) == 1
    assert "ids.png" in capsys.readouterr().err


def test_sample_refuses_a_bad_device(reference: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    torch.save(reference["G_state_dict"], tmp_path / "G.pth")
    opt_txt = _write_opt_txt(reference["options"], tmp_path / "opt.txt")
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(tmp_path / "a.png")
    assert main(["sample", "--checkpoint", str(tmp_path / "G.pth"), "--opt", str(opt_txt), "--labels",
                                 str(tmp_path / "a.png"), "--out", str(tmp_path / "out"), "--device", "gpu"]) == 1
    assert "device='gpu' is not a torch device" in capsys.readouterr().err


@pytest.mark.parametrize("options, message", [
    ({"label_nc": 10**9}, "label_nc=1000000000 must be an integer from 1 to 4096"),
    ({"ngf": 3 * 10**9}, "ngf=3000000000 must be an integer from 1 to 1024"),
    ({"z_dim": 10**10}, "z_dim=10000000000 must be an integer"),
    ({"crop_size": 10**9}, "crop_size=1000000000 must be an integer"),
    ({"aspect_ratio": 1e-300}, "aspect_ratio=1e-300 must be a positive number .* between 1/8 and 8"),
    ({"norm_G": [1, 2]}, r"norm_G=\[1, 2\] must be a name such as 'spectralspadesyncbatch3x3'"),
    ({"norm_E": 5}, "norm_E=5 must be a name such as 'spectralinstance'"),
])
def test_options_that_would_allocate_without_bound_or_crash_are_one_line(options, message):
    with pytest.raises(ValueError, match=message):
        official.resolve_options(options)


def test_options_that_are_not_a_mapping_and_a_binary_opt_file_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="official options are a list: pass a dict"):
        official.resolve_options([("ngf", 4)])
    binary = tmp_path / "latest_net_G.pth"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="latest_net_G.pth: not a text file of options .* pass the opt.txt"):
        official.read_options(binary)


def test_a_network_larger_than_the_checkpoint_is_refused_before_it_is_built(reference, monkeypatch):
    built = []
    monkeypatch.setattr(official, "SPADEGenerator", lambda **kwargs: built.append(torch.get_default_device()) or
                        torch.nn.Linear(1, 10**4))
    with pytest.raises(ValueError, match="parameters but the checkpoint holds"):
        official.load("G", {"w": torch.zeros(3)}, reference["options"])
    assert built == [torch.device("meta")]

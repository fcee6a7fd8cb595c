"""spade_lesson.checkpoints.sampling: `spade-lesson sample` with spade-lesson checkpoints, an image's style and N
random styles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from spade_lesson.checkpoints import SHIPPED, load_networks
from spade_lesson.checkpoints.sampling import read_style_image
from spade_lesson.cli import main
from spade_lesson.data import Landscapes, one_hot
from spade_lesson.models import official
from spade_lesson.models.encoder import ConvEncoder
from spade_lesson.models.generator import SPADEGenerator
from spade_lesson.training.checkpoint_file import save_checkpoint
from spade_lesson.training.config import fast_config
from spade_lesson.training.trainer import SPADETrainer


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A Landscapes label map as an id PNG and two of its photos in different looks, at 64 x 64."""
    folder = tmp_path_factory.mktemp("scene")
    data = Landscapes(size=64, length=1)
    Image.fromarray(data[0]["label"].numpy().astype(np.uint8)).save(folder / "map.png")
    for look in (0, 5):
        photo = ((data.render(0, style=look)["image"] + 1) * 127.5).round().clamp(0, 255).byte()
        Image.fromarray(photo.permute(1, 2, 0).numpy()).save(folder / f"photo{look}.png")
    return {"map": folder / "map.png", "photo0": folder / "photo0.png", "photo5": folder / "photo5.png"}


def _pixels(path: Path) -> np.ndarray:
    """A written PNG as float RGB."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(np.float32)


@pytest.mark.slow
def test_the_style_of_an_image_is_the_encoders_mean_code_and_shows(scene, tmp_path, capsys) -> None:
    assert main(["sample", "--checkpoint", str(SHIPPED), "--labels", str(scene["map"]), "--style",
                 str(scene["photo0"]), "--out", str(tmp_path / "a")]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'a' / 'map.png'}\n"
    nets = load_networks(SHIPPED)
    with torch.no_grad():
        mu, _ = nets.encoder(read_style_image(scene["photo0"], (64, 64)))
        semantic = one_hot(Landscapes(size=64, length=1)[0]["label"][None], 9)
        expected = ((nets.generator(semantic, mu)[0] + 1) * 127.5).permute(1, 2, 0).numpy()
    assert np.abs(_pixels(tmp_path / "a" / "map.png") - expected).max() <= 0.51
    assert main(["sample", "--checkpoint", str(SHIPPED), "--labels", str(scene["map"]), "--style",
                 str(scene["photo5"]), "--out", str(tmp_path / "b")]) == 0
    distance = {(made, look): np.abs(_pixels(tmp_path / made / "map.png") - _pixels(scene[look])).mean()
                for made in ("a", "b") for look in ("photo0", "photo5")}
    # each drawing is closer to the photo whose style it was given than to the other look (13 vs 56, 21 vs 46 here)
    assert distance["a", "photo0"] < distance["a", "photo5"] and distance["b", "photo5"] < distance["b", "photo0"]


@pytest.mark.slow
def test_n_random_styles_per_map_are_different_and_repeatable(scene, tmp_path) -> None:
    arguments = ["sample", "--checkpoint", str(SHIPPED), "--labels", str(scene["map"]), "--styles", "3"]
    assert main([*arguments, "--out", str(tmp_path / "a")]) == 0
    assert sorted(path.name for path in (tmp_path / "a").iterdir()) == ["map_style0.png", "map_style1.png",
                                                                         "map_style2.png"]
    images = [_pixels(tmp_path / "a" / f"map_style{k}.png") for k in range(3)]
    assert min(np.abs(images[i] - images[j]).mean() for i, j in ((0, 1), (0, 2), (1, 2))) > 1
    assert main([*arguments, "--out", str(tmp_path / "b")]) == 0  # the same seed: the same styles
    assert np.array_equal(_pixels(tmp_path / "b" / "map_style1.png"), images[1])


@pytest.mark.slow
def test_styles_without_an_encoder_and_bad_values_are_one_line(scene, tmp_path, capsys) -> None:
    trainer = SPADETrainer(fast_config(size=64), 9, torch.device("cpu"))  # no style encoder (use_vae False)
    save_checkpoint(tmp_path / "checkpoint.pt", trainer, 0)
    common = ["sample", "--labels", str(scene["map"]), "--out", str(tmp_path / "out")]
    assert main([*common, "--checkpoint", str(tmp_path / "checkpoint.pt"), "--styles", "2"]) == 1
    assert capsys.readouterr().err.startswith("spade-lesson sample: error: --styles N needs a model trained with the "
                                              "style encoder")
    plain = ["sample", "--labels", str(scene["map"]), "--out", str(tmp_path / "plain")]
    assert main([*plain, "--checkpoint", str(tmp_path / "checkpoint.pt")]) == 0  # plain sampling works
    assert main([*common, "--checkpoint", str(SHIPPED), "--styles", "0"]) == 1
    assert "--styles 0: draw 1 to 1000 styles per map" in capsys.readouterr().err
    assert main([*common, "--checkpoint", str(SHIPPED), "--style", str(tmp_path / "nope.jpg")]) == 1
    assert f"style image {tmp_path / 'nope.jpg'} not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: the two are exclusive
        main([*common, "--checkpoint", str(SHIPPED), "--style", str(scene["photo0"]), "--styles", "2"])


@pytest.mark.slow
def test_an_official_vae_draws_in_an_images_style_with_its_encoder(scene, tmp_path, capsys) -> None:
    options = {"label_nc": 9, "no_instance": True, "ngf": 4, "crop_size": 64, "use_vae": True, "z_dim": 8,
               "norm_G": "spectralspadebatch3x3"}
    torch.manual_seed(0)
    generator = SPADEGenerator(**official.network_arguments("G", options))
    encoder = ConvEncoder(**official.network_arguments("E", options))
    torch.save(generator.state_dict(), tmp_path / "latest_net_G.pth")
    torch.save(encoder.state_dict(), tmp_path / "latest_net_E.pth")
    opt_txt = tmp_path / "opt.txt"
    opt_txt.write_text("".join(f"{name:>25}: {value}\n" for name, value in options.items()))
    common = ["sample", "--checkpoint", str(tmp_path / "latest_net_G.pth"), "--opt", str(opt_txt), "--labels",
              str(scene["map"]), "--style", str(scene["photo0"])]
    assert main([*common, "--out", str(tmp_path / "no_encoder")]) == 1
    assert "pass its latest_net_E.pth as --encoder" in capsys.readouterr().err
    assert main([*common, "--encoder", str(tmp_path / "latest_net_E.pth"), "--out", str(tmp_path / "out")]) == 0
    with torch.no_grad():
        mu, _ = encoder.eval()(read_style_image(scene["photo0"], (64, 64)))
        expected = ((generator.eval()(one_hot(Landscapes(size=64, length=1)[0]["label"][None], 9), mu)[0] + 1)
                    * 127.5).permute(1, 2, 0).numpy()
    assert np.abs(_pixels(tmp_path / "out" / "map.png") - expected).max() <= 0.51


def test_ten_million_styles_are_refused_at_once(scene, tmp_path, capsys) -> None:
    import time

    start = time.perf_counter()
    assert main(["sample", "--checkpoint", str(SHIPPED), "--labels", str(scene["map"]), "--out", str(tmp_path),
                 "--styles", str(10**7)]) == 1
    assert time.perf_counter() - start < 5 and "--styles 10000000: draw 1 to 1000" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_an_instance_map_of_another_size_than_its_label_map_is_refused(scene, tmp_path, capsys) -> None:
    small = tmp_path / "instance.png"
    Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(small)
    assert main(["sample", "--checkpoint", str(SHIPPED), "--labels", str(scene["map"]), "--instances", str(small),
                 "--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert f"instance map {small} is 32x32 but its label map {scene['map']} is 64x64" in error
    assert error.count("\n") == 1 and not (tmp_path / "out").exists()

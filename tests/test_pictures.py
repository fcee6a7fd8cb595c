"""spade_lesson.data.pictures: the sample grid's layout and PNGs that read back unchanged."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

matplotlib.use("Agg")

from spade_lesson.data.pictures import sample_grid, show_image, write_png


def test_sample_grid_rows_are_label_generated_real():
    label = torch.tensor([[[0, 1], [1, 0]]] * 3)
    fake, real = -torch.ones(3, 3, 2, 2), torch.ones(3, 3, 2, 2)
    grid = sample_grid(label, fake, real, [(10, 20, 30), (40, 50, 60)])
    assert grid.shape == (6, 6, 3) and grid.dtype == torch.uint8
    assert grid[0, 0].tolist() == [10, 20, 30] and grid[0, 1].tolist() == [40, 50, 60]
    assert (grid[:, 2:4] == 0).all() and (grid[:, 4:] == 255).all()


def test_write_png_reads_back_and_leaves_no_temporary_file(tmp_path):
    image = torch.randint(0, 256, (5, 7, 3), dtype=torch.uint8)
    write_png(image, tmp_path / "a" / "x.png")
    with Image.open(tmp_path / "a" / "x.png") as picture:
        assert picture.format == "PNG" and np.array_equal(np.asarray(picture), image.numpy())
    assert [path.name for path in (tmp_path / "a").iterdir()] == ["x.png"]


def test_show_image_draws_an_image_or_a_batch_side_by_side():
    import matplotlib.pyplot as plt

    batch = torch.stack([-torch.ones(3, 4, 5), torch.ones(3, 4, 5)])
    ax = show_image(batch, title="two")
    drawn = ax.get_images()[0].get_array()
    assert drawn.shape == (4, 10, 3) and (drawn[:, :5] == 0).all() and (drawn[:, 5:] == 255).all()
    assert ax.get_title() == "two"
    assert show_image(batch[0], ax=ax) is ax
    with pytest.raises(ValueError, match=r"show_image: image has shape \(4, 5\)"):
        show_image(torch.zeros(4, 5))
    plt.close("all")

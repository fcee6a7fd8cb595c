"""spade_lesson.data.pictures: the sample grid's layout and PNGs that read back unchanged."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from spade_lesson.data.pictures import sample_grid, write_png


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

"""Samples written as a PNG grid (read back pixel by pixel) or a .npz archive, atomically."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dlspec.errors import GenerateError
from dlspec.generate.grid import GUTTER, write_samples


def read_png(path):
    with Image.open(path) as image:
        return image.mode, np.asarray(image)


def test_greyscale_grid_places_each_sample_and_maps_its_values(tmp_path):
    # five 2x3 images, each one value: sample k is k/4 on [0, 1] -> 0, 64, 128, 191, 255
    samples = np.stack([np.full((1, 2, 3), k / 4) for k in range(5)])
    path = tmp_path / "grid.png"
    write_samples(samples, path, value_range=(0.0, 1.0), scale=1)
    mode, pixels = read_png(path)
    assert mode == "L"
    assert pixels.shape == (2 * 2 + 1, 3 * 3 + 2)  # 3 columns, 2 rows, 1-pixel gutters
    expected = [0, 64, 128, 191, 255]
    for k, value in enumerate(expected):
        top, left = (k // 3) * 3, (k % 3) * 4
        assert (pixels[top:top + 2, left:left + 3] == value).all(), k
    assert (pixels[2, :] == GUTTER).all() and (pixels[:, 3] == GUTTER).all()
    assert (pixels[3:5, 8:11] == GUTTER).all()  # the empty sixth cell


def test_flat_vectors_take_the_image_shape_and_the_samples_own_range(tmp_path):
    samples = np.arange(2 * 12, dtype=np.float32).reshape(2, 12)  # values 0..23
    path = tmp_path / "grid.png"
    write_samples(samples, path, image_shape=(3, 4), scale=1)
    _, pixels = read_png(path)
    assert pixels.shape == (3, 4 + 1 + 4)
    assert pixels[0, 0] == 0 and pixels[2, 8] == 255  # min and max of the samples
    assert pixels[1, 2] == round(6 / 23 * 255)  # sample 0, row 1, column 2: value 6
    assert pixels[0, 5] == round(12 / 23 * 255)  # sample 1's first pixel


def test_rgb_channel_first_samples_and_the_default_enlargement(tmp_path):
    samples = np.zeros((1, 3, 8, 8))
    samples[0, 0, 0, 0] = 1.0  # red top-left pixel
    samples[0, 2, 7, 7] = 1.0  # blue bottom-right pixel
    path = tmp_path / "rgb.png"
    write_samples(samples, path, value_range=(0, 1))
    mode, pixels = read_png(path)
    assert mode == "RGB" and pixels.shape == (32, 32, 3)  # 8x8 drawn 4x
    assert (pixels[:4, :4] == [255, 0, 0]).all() and (pixels[4, 4] == [0, 0, 0]).all()
    assert (pixels[28:, 28:] == [0, 0, 255]).all()


def test_a_square_vector_is_drawn_square_and_out_of_range_values_clip(tmp_path):
    samples = np.array([[-3.0] * 8 + [5.0] * 8])  # 16 values: a 4x4 image
    path = tmp_path / "g.png"
    write_samples(samples, path, value_range=(-1, 1), scale=2)
    _, pixels = read_png(path)
    assert pixels.shape == (8, 8)
    assert (pixels[:4] == 0).all() and (pixels[4:] == 255).all()


def test_npz_keeps_the_samples_and_extra_arrays(tmp_path):
    samples = np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype(np.float32)
    path = tmp_path / "s.npz"
    write_samples(samples, path, extra={"codes": np.ones((3, 4))})
    with np.load(path) as archive:
        assert sorted(archive.files) == ["codes", "samples"]
        assert np.array_equal(archive["samples"], samples)
        assert archive["samples"].dtype == np.float32
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]  # no temporary file left


@pytest.mark.parametrize("name", ["grid.jpg", "samples"])
def test_another_suffix_is_refused_naming_png_and_npz(tmp_path, name):
    with pytest.raises(GenerateError) as err:
        write_samples(np.zeros((1, 4)), tmp_path / name)
    assert err.value.codes == ["DLS601"]
    assert "write a .png grid or a .npz array file" in str(err.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("samples, shape, message", [
    (np.zeros((2, 10)), None, "samples of shape (10,) are not images"),
    (np.zeros((2, 12)), (5, 5), "cannot be drawn as images of shape (5, 5)"),
    (np.zeros((2, 2, 4, 4)), None, "samples of shape (2, 4, 4) are not images"),
    (np.full((2, 4), np.nan), None, "NaN or infinite"),
])
def test_samples_that_are_no_picture_leave_the_old_file(tmp_path, samples, shape, message):
    path = tmp_path / "grid.png"
    write_samples(np.zeros((1, 1, 2, 2)), path)
    before = path.read_bytes()
    with pytest.raises(GenerateError) as err:
        write_samples(samples, path, image_shape=shape)
    assert message in str(err.value)
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_a_failing_write_leaves_the_good_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "grid.png"
    write_samples(np.zeros((1, 1, 2, 2)), path)
    before = path.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as file:
            file.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_samples(np.ones((4, 1, 2, 2)), path)
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1

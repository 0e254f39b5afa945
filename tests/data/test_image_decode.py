"""Decoding an image to the model's input (resize to cover, centre crop, grayscale or RGB)
and the per-channel statistics streamed over many images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dlspec.data import image_decode
from dlspec.data.image_decode import ImageReadError, ImageShape


def stripes(path, width=60, height=20):
    """Three vertical thirds: red, green, blue."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    third = width // 3
    for k in range(3):
        pixels[:, k * third:(k + 1) * third, k] = 255
    Image.fromarray(pixels).save(path)
    return path


def test_a_wide_image_is_cropped_at_its_centre(tmp_path):
    path = stripes(tmp_path / "wide.png")
    out = ImageShape(3, 20, 20).decode(str(path))  # height fits: the middle third is left
    assert out.dtype == np.uint8 and out.shape == (3, 20, 20)
    assert out[1].min() == 255 and out[0].max() == 0 and out[2].max() == 0


def test_an_image_is_resized_to_cover_then_cropped(tmp_path):
    path = stripes(tmp_path / "wide.png", width=120, height=40)
    out = ImageShape(3, 10, 10).decode(str(path))  # 120x40 -> 30x10, middle 10 columns
    assert out.shape == (3, 10, 10)
    inner = out[:, :, 1:-1]  # the edge columns blend with the neighbouring thirds
    assert (inner[1] >= 250).all() and (inner[0] <= 5).all() and (inner[2] <= 5).all()
    assert out[0, :, 0].min() > 0 and out[0, :, -1].max() == 0  # red on the left only


def test_grayscale_and_jpeg(tmp_path):
    Image.new("RGB", (64, 48), (255, 0, 0)).save(tmp_path / "red.jpg", quality=95)
    gray = ImageShape(1, 16, 16).decode(str(tmp_path / "red.jpg"))
    assert gray.shape == (1, 16, 16)
    assert abs(int(gray.mean()) - 76) <= 2  # 0.299 * 255: ITU-R 601 luma of red
    rgb = ImageShape(3, 12, 12).decode(str(tmp_path / "red.jpg"))
    assert rgb.shape == (3, 12, 12) and rgb[0].min() > 240 and rgb[1:].max() < 15


def test_a_16_bit_grayscale_png_is_scaled_to_8_bits_not_clipped(tmp_path):
    wide = np.array([[0, 257, 32896], [65535, 1000, 51400]], dtype=np.uint16)
    Image.fromarray(wide).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    grey = ImageShape(1, 2, 3).decode(str(tmp_path / "deep.png"))
    assert grey[0].tolist() == [[0, 1, 128], [255, 4, 200]]  # value / 257, rounded
    rgb = ImageShape(3, 2, 3).decode(str(tmp_path / "deep.png"))
    assert (rgb == grey).all()


def test_a_damaged_image_names_its_file(tmp_path):
    path = tmp_path / "cut.png"
    stripes(path)
    path.write_bytes(path.read_bytes()[:60])  # the header survives, the pixels do not
    with pytest.raises(ImageReadError, match=f"image {path} cannot be decoded"):
        ImageShape(3, 20, 20).decode(str(path))


def test_channel_stats_stream_in_chunks(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(7):
        pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        pixels[..., 2] = 9  # a constant channel keeps std 1
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    shape = ImageShape(3, 8, 8)
    every = shape.decode_many(paths).astype(np.float64)
    monkeypatch.setattr(image_decode, "_CHUNK", 3)  # three chunks, two threads
    stats = shape.channel_stats(paths, workers=2)
    np.testing.assert_allclose(stats.mean, every.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(stats.std[:2], every.std(axis=(0, 2, 3))[:2], rtol=1e-9)
    assert stats.mean[2] == 9 and stats.std[2] == 1
    assert (stats.low, stats.high) == (every.min(), every.max())

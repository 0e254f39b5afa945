"""An image folder prepared for training: split like any dataset, the per-channel
standardization fitted on the train split's pixels (what the export bakes in), and splits
that decode only when their pixels are read."""

from __future__ import annotations

import numpy as np
import pytest
from image_folders import digit_folder, write_spec

from dlspec.api import check, load_data
from dlspec.data.image_split import ImageSplit


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("prepare")
    pixels, labels = digit_folder(root / "digits", per_class=5)
    return root, pixels, labels


def test_the_train_split_fits_the_per_channel_standardization(folder):
    root, pixels, labels = folder
    data = load_data(check(write_spec(root, "{images: digits, split: [0.6, 0.2, 0.2]}")))
    assert isinstance(data.train, ImageSplit)
    assert [len(s) for s in (data.train, data.val, data.test)] == [30, 10, 10]
    assert sorted(np.bincount(data.test.y)) == [1] * 10  # stratified: one of each class
    assert data.class_names == [str(d) for d in range(10)] and data.source.endswith("digits")
    rows = [int(p.split("/")[-1][:5]) for p in data.train.paths]  # sample numbers
    order = {int(n): i for i, n in enumerate(_sample_numbers(root))}
    train = pixels[[order[n] for n in rows]].astype(np.float64)
    assert np.array_equal(data.train.y, labels[[order[n] for n in rows]])
    mean, std = train.mean(axis=(0, 2, 3)), train.std(axis=(0, 2, 3))
    assert data.mean.shape == data.std.shape == (3, 32, 32)  # like one sample
    np.testing.assert_allclose(data.mean[:, 5, 7], mean, rtol=1e-6)
    np.testing.assert_allclose(data.std[:, 0, 0], std, rtol=1e-6)
    assert list(data.scaling) == ["image"]  # the checkpoint's preprocess.mean/std
    assert all(a is b for a, b in zip(data.scaling["image"], (data.mean, data.std),
                                      strict=True))
    x = data.train.x  # the whole split decoded and standardized
    np.testing.assert_allclose(x, (train - mean[:, None, None]) / std[:, None, None],
                               atol=1e-5)
    assert data.train.rows(slice(0, 4)).paths.tolist() == data.train.paths[:4].tolist()


def test_standardize_false_feeds_pixel_values(folder):
    root, pixels, _ = folder
    data = load_data(check(write_spec(root, "{images: digits, standardize: false}")))
    assert data.mean is None and data.scaling == {}
    first = int(data.val.paths[0].split("/")[-1][:5])
    index = _sample_numbers(root).index(first)
    assert np.array_equal(data.val.x[0], pixels[index].astype(np.float32))


def _sample_numbers(root) -> list[int]:
    return [int(p.stem) for p in sorted(root.glob("digits/*/*.png"))]


def test_rescale_maps_the_train_pixels_range(folder):
    root, pixels, _ = folder
    data = load_data(check(write_spec(root, "{images: digits, rescale: [-1, 1]}")))
    x = data.train.x
    assert (float(x.min()), float(x.max())) == (-1.0, 1.0)  # 0..255 onto [-1, 1]
    np.testing.assert_allclose(data.mean[:, 0, 0], [127.5] * 3)
    np.testing.assert_allclose(data.std[:, 0, 0], [127.5] * 3)


@pytest.mark.parametrize("sampling", ["weighted", "oversample", "undersample"])
def test_data_sampling_reaches_the_training_of_images(folder, sampling):
    root, _, _ = folder  # it was accepted, then every epoch drew the plain permutation
    data = load_data(check(write_spec(root, f"{{images: digits, sampling: {sampling}}}")))
    assert data.sampling == sampling

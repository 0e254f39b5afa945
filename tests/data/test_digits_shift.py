"""specs/data/digits-shift.npz, the data of the shipped two-input spec: made by its script,
every label needs both inputs."""

import importlib.util
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "specs" / "data"


def script():
    spec = importlib.util.spec_from_file_location("make_digits_shift",
                                                  DATA / "make_digits_shift.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_file_is_what_its_script_writes():
    made = script().digits_shift()
    with np.load(DATA / "digits-shift.npz") as shipped:
        assert shipped.files == ["image", "shift", "y"]
        assert all(np.array_equal(shipped[key], made[key]) for key in shipped.files)


def test_the_label_needs_the_image_and_the_shift():
    made = script().digits_shift()
    y = made["y"].astype(np.int64)
    image, shift = made["image"].reshape(len(y), -1), made["shift"][:, 0]
    # every image comes once per shift, with two labels 5 apart: the image alone tells half
    first, second = np.split(np.arange(len(y)), 2)
    assert np.array_equal(image[first], image[second]) and set(shift) == {0, 5}
    assert np.all((y[second] - y[first]) % 10 == 5)
    assert np.bincount(y).min() > 340  # and the shift alone tells no class: all ten balanced

"""specs/two-input-digits-shift.yaml trains a model with two inputs, an image and a feature,
from one npz file whose arrays feed the inputs of their names; its label ((digit + shift) mod
10) needs both, so it beats the same model whose shift input is zeroed by a wide margin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlspec.api import train_spec

SPEC = Path(__file__).resolve().parents[1] / "specs" / "two-input-digits-shift.yaml"
EPOCHS = "train.epochs=5"


@pytest.mark.slow
def test_two_inputs_train_and_beat_the_model_fed_the_image_only(tmp_path):
    with np.load(SPEC.parent / "data" / "digits-shift.npz") as shipped:
        arrays = {key: shipped[key] for key in shipped.files}
    np.savez(tmp_path / "image-only.npz", **{**arrays, "shift": np.zeros_like(arrays["shift"])})
    runs = tmp_path / "runs"
    both = train_spec(SPEC, [EPOCHS], out_root=runs, quiet=True)
    image_only = train_spec(SPEC, [EPOCHS, f"data.path={tmp_path / 'image-only.npz'}"],
                            out_root=runs, quiet=True)
    both, image_only = both.test_metrics["test_accuracy"], image_only.test_metrics["test_accuracy"]
    # the image alone tells which two labels (5 apart) a sample has, never which of them
    assert both >= 0.9 and image_only <= 0.6 and both - image_only >= 0.35, (both, image_only)

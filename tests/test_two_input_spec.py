"""specs/two-input-digits-shift.yaml trains a model with two inputs, an image and a feature
(the fields of the built-in digits_shift); its label, (digit + shift) mod 10, needs both, so
it beats the same model whose shift input is zeroed by a wide margin. The zeroed run reads
the same samples from an npz file, whose arrays feed the inputs named by their keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlspec.api import train_spec
from dlspec.data.builtin import load_builtin

SPEC = Path(__file__).resolve().parents[1] / "specs" / "two-input-digits-shift.yaml"
EPOCHS = "train.epochs=8"


@pytest.mark.slow
def test_two_inputs_train_and_beat_the_model_fed_the_image_only(tmp_path):
    raw = load_builtin("digits_shift")
    np.savez(tmp_path / "image-only.npz", image=raw.fields["image"],
             shift=np.zeros_like(raw.fields["shift"]), y=raw.y)
    runs = tmp_path / "runs"
    both = train_spec(SPEC, [EPOCHS], out_root=runs, quiet=True)
    image_only = train_spec(SPEC, [EPOCHS, "data.dataset=npz",
                                   f"data.path={tmp_path / 'image-only.npz'}"],
                            out_root=runs, quiet=True)
    both, image_only = both.test_metrics["test_accuracy"], image_only.test_metrics["test_accuracy"]
    # the same split (same labels and seed); the image alone tells which two labels (5 apart)
    # a sample may have, never which of them
    assert both >= 0.9 and image_only <= 0.6 and both - image_only >= 0.35, (both, image_only)

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


@pytest.mark.slow
def test_csv_column_groups_feed_the_inputs_the_same_data_as_the_built_in_fields(tmp_path):
    """The same samples as a CSV file whose data.inputs groups the 64 pixel columns into
    `image` and the last one into `shift`: same split, same standardization, same run."""
    raw = load_builtin("digits_shift")
    pixels = [f"p{i}" for i in range(64)]
    rows = np.concatenate([raw.fields["image"], raw.fields["shift"], raw.y[:, None]], axis=1)
    (tmp_path / "d.csv").write_text(",".join([*pixels, "shift", "label"]) + "\n" + "".join(
        ",".join(str(int(v)) for v in row) + "\n" for row in rows))
    text = SPEC.read_text().replace(
        "data: {dataset: digits_shift,",
        f"data: {{dataset: csv, path: d.csv, inputs: {{image: [{', '.join(pixels)}], "
        "shift: [shift]},")
    spec = tmp_path / "csv.yaml"
    spec.write_text(text)
    runs = tmp_path / "runs"
    from_csv = train_spec(spec, ["train.epochs=4"], out_root=runs, quiet=True)
    built_in = train_spec(SPEC, ["train.epochs=4"], out_root=runs, quiet=True)
    assert from_csv.test_metrics == built_in.test_metrics
    assert from_csv.test_metrics["test_accuracy"] > 0.7  # the shift is read: beyond 1 in 2 (0.86)

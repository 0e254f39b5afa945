"""`dlspec evaluate`: a checkpoint's metrics on a split are the ones training measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlspec.api import evaluate_spec, train_spec
from dlspec.errors import TrainError

SPECS = Path(__file__).resolve().parents[3] / "specs"
SPEC = SPECS / "mlp-digits.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_spec(SPEC, ["train.epochs=3"], out_root=tmp_path_factory.mktemp("runs"),
                      run_name="mlp", quiet=True)


def test_the_best_checkpoint_scores_what_training_reported(trained):
    test = evaluate_spec(SPEC, trained.run_dir)  # a run folder: its best checkpoint
    assert test.weights == trained.best_checkpoint and test.split == "test"
    assert test.samples == 180
    assert test.metrics == pytest.approx(trained.test_metrics, rel=1e-6)
    val = evaluate_spec(SPEC, trained.best_checkpoint, split="val")
    best = trained.history[trained.best_epoch - 1]
    assert val.metrics == pytest.approx({k: best[k] for k in ("val_loss", "val_accuracy")},
                                        rel=1e-6)
    assert val.to_json()["metrics"] == val.metrics


def test_an_empty_split_and_a_checkpoint_of_another_model_are_errors(trained):
    with pytest.raises(TrainError, match="the test split is empty"):
        evaluate_spec(SPEC, trained.run_dir, overrides=["data.split=[0.9, 0.1, 0.0]"])
    with pytest.raises(TrainError, match="checkpoint does not fit the model"):
        evaluate_spec(SPECS / "cnn-digits.yaml", trained.run_dir)

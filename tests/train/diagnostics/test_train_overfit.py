"""--overfit-batch: train on the same few examples every step; a working MLP memorizes them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from train_data_fixtures import classification_data

from dlspec.api import overfit_spec
from dlspec.errors import TrainError
from dlspec.train.diagnostics.overfit import OverfitReport, overfit_setup
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import EarlyStoppingConfig, RegularizationConfig, TrainConfig

SPECS = Path(__file__).resolve().parents[3] / "specs"


def test_the_setup_keeps_n_examples_one_batch_and_no_early_stopping():
    data = classification_data()
    recipe = Recipe.from_sections(
        "classification", batch_size=16, train=TrainConfig(epochs=3, accumulate=2),
        regularization=RegularizationConfig(early_stopping=EarlyStoppingConfig()))
    small, changed = overfit_setup(data, recipe, samples=10, steps=50)
    assert (small.train.inputs["x"] == data.train.inputs["x"][:10]).all()
    assert len(small.train) == 10
    assert len(small.val) == len(small.test) == 0
    assert (changed.batch_size, changed.train.epochs, changed.train.accumulate) == (10, 50, 1)
    assert changed.regularization.early_stopping is None
    with pytest.raises(TrainError, match="--overfit-batch 500: the train split has 210"):
        overfit_setup(data, recipe, samples=500, steps=50)


def test_an_mlp_memorizes_32_digits(tmp_path):
    result, report = overfit_spec(SPECS / "mlp-digits.yaml", samples=32, steps=100,
                                  out_root=tmp_path)
    assert report.memorized is True and report.metrics["train_accuracy"] == 1.0
    assert report.metrics["train_loss"] < result.history[0]["train_loss"] / 4
    assert report.line().startswith("memorized 32 examples in 100 steps (loss ")
    with open(result.run_dir / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 100 and rows[-1]["step"] == "100"  # one step of 32 per "epoch"
    assert "val_loss" not in rows[0]


def test_the_report_says_when_examples_were_not_memorized():
    report = OverfitReport(8, 10, {"train_loss": 1.2, "train_accuracy": 0.625})
    assert report.memorized is False
    assert report.line().startswith("did NOT memorize 8 examples in 10 steps (loss 1.2000, "
                                    "accuracy 0.6250); a working model should")
    assert OverfitReport(8, 10, {"train_loss": 0.1, "train_r2": 0.995}).memorized is True

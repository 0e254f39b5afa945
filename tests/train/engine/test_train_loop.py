"""fit end to end: learning, determinism, early stopping, NaN detection, files, TensorBoard."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch
from rich.console import Console
from safetensors import safe_open
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from train_data_fixtures import binary_data, classification_data, mlp, regression_data

from dlspec.data.types import PreparedData, Split
from dlspec.errors import TrainError
from dlspec.train.engine.loop import fit
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import (
    AdamConfig,
    AdamWConfig,
    CosineSchedule,
    EarlyStoppingConfig,
    LinearWarmupSchedule,
    RegularizationConfig,
    SGDConfig,
    TrainConfig,
)
from dlspec.train.recipe.schedules import lr_at
from dlspec.train.run_folder.checkpoint import load_checkpoint

META = {"spec_name": "blobs", "spec_sha256": "ab" * 32}


def recipe(task="classification", epochs=5, lr=0.01, batch_size=32, **sections) -> Recipe:
    sections.setdefault("optimizer", AdamConfig(lr=lr))
    return Recipe.from_sections(task, train=TrainConfig(epochs=epochs, log_every=5),
                                batch_size=batch_size, **sections)


def run(model, data, tmp_path, seed=0, **options):
    return fit(model, data, recipe(data.task, **options), tmp_path, device="cpu", seed=seed,
               metadata=META, quiet=True)


def accuracy(model, split) -> float:
    with torch.no_grad():
        return (model(torch.from_numpy(split.x)).argmax(1).numpy() == split.y).mean()


def test_fit_learns_separable_blobs(tmp_path):
    data = classification_data(classes=3, n_per_class=150, spread=1.0)
    model = mlp(outputs=3)
    assert accuracy(model, data.val) < 0.7
    result = run(model, data, tmp_path, epochs=12)
    assert result.val_metrics["val_accuracy"] >= 0.95
    assert result.test_metrics["test_accuracy"] >= 0.95
    assert accuracy(model, data.val) == pytest.approx(result.val_metrics["val_accuracy"])
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"] / 2


def test_fit_writes_the_run_files(tmp_path):
    data = classification_data()
    result = run(mlp(), data, tmp_path, epochs=3)
    with open(tmp_path / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert list(rows[0]) == ["epoch", "step", "lr", "train_loss", "val_loss", "val_accuracy",
                             "skipped_steps", "seconds"]
    assert float(rows[2]["val_loss"]) == pytest.approx(result.history[2]["val_loss"], rel=1e-4)
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["best_epoch"] == result.best_epoch and saved["epochs_run"] == 3
    assert saved["test_metrics"] == pytest.approx(result.test_metrics)
    last = load_checkpoint(tmp_path / "checkpoints" / "last.safetensors")
    assert last.metadata["epoch"] == "3" and last.metadata["step"] == str(3 * 7)
    assert last.metadata["spec_name"] == "blobs" and last.metadata["task"] == "classification"
    assert json.loads(last.metadata["class_names"]) == ["class0", "class1", "class2"]
    assert json.loads(last.metadata["metrics"])["val_accuracy"] == result.history[2][
        "val_accuracy"]
    assert "dlspec_version" in last.metadata
    assert torch.equal(last.extras["preprocess.mean"], torch.zeros(2))
    best = load_checkpoint(tmp_path / "checkpoints" / "best.safetensors")
    assert best.metadata["epoch"] == str(result.best_epoch)
    folder = tmp_path / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == [
        "best.safetensors", "last.safetensors", f"resume-{3 * 7:09d}.weights.safetensors",
        "resume.safetensors"]
    with safe_open(folder / "resume.safetensors", framework="pt") as handle:
        resume = json.loads(handle.metadata()["dlspec_resume"])
        assert not any(k.startswith("model.") for k in handle.keys())  # noqa: SIM118
    assert (resume["epoch"], resume["step"]) == (3, 21)
    # the weights are written once: the resume checkpoint links last.safetensors
    assert (folder / resume["weights"]).samefile(folder / "last.safetensors")


@pytest.mark.parametrize("optimizer", [SGDConfig(lr=0.05, momentum=0.9), AdamWConfig(lr=0.01)])
def test_same_seed_same_weights_and_another_seed_differs(tmp_path, optimizer):
    data = classification_data()
    options = {"epochs": 3, "optimizer": optimizer}
    weights = []
    for index, seed in enumerate((7, 7, 8)):
        torch.manual_seed(0)  # the same initial weights; dropout and shuffling follow `seed`
        model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
        run(model, data, tmp_path / str(index), seed=seed, **options)
        weights.append(model.state_dict())
    for name in weights[0]:
        assert torch.equal(weights[0][name], weights[1][name]), name
    assert not all(torch.equal(weights[0][n], weights[2][n]) for n in weights[0])


def test_early_stopping_stops_after_patience_and_restores_the_best(tmp_path):
    # train_loss falls every epoch, so with mode max the best epoch stays the first one
    stopping = EarlyStoppingConfig(monitor="train_loss", mode="max", patience=2)
    model = mlp()
    result = run(model, classification_data(), tmp_path, epochs=20,
                 regularization=RegularizationConfig(early_stopping=stopping))
    assert (result.epochs_run, result.best_epoch, result.stopped_early) == (3, 1, True)
    assert result.restored_best and result.best_value == result.history[0]["train_loss"]
    best = load_checkpoint(tmp_path / "checkpoints" / "best.safetensors").state_dict
    last = load_checkpoint(tmp_path / "checkpoints" / "last.safetensors").state_dict
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, best[name]), name
    assert not all(torch.equal(best[n], last[n]) for n in best)
    assert result.val_metrics["val_loss"] == result.history[0]["val_loss"]


def test_min_delta_counts_tiny_changes_as_no_improvement(tmp_path):
    stopping = EarlyStoppingConfig(monitor="val_loss", patience=3, min_delta=0.5,
                                   restore_best=False)
    result = run(mlp(), classification_data(), tmp_path, epochs=30, lr=1e-6,
                 regularization=RegularizationConfig(early_stopping=stopping))
    assert (result.epochs_run, result.best_epoch, result.restored_best) == (4, 1, False)


def test_a_huge_learning_rate_stops_with_dls403(tmp_path):
    with pytest.raises(TrainError, match=r"training (loss|gradients) stayed non-finite for 5 "
                                         r"steps in a row \(epoch 1, steps \d+-\d+;") as error:
        run(mlp(inputs=3, outputs=1), regression_data(), tmp_path, epochs=3,
            optimizer=SGDConfig(lr=1e6))
    assert error.value.codes == ["DLS403"]
    assert "the learning rate is probably too high (lr=1e+06" in str(error.value)


class ExplodesLater(nn.Module):
    """An MLP whose training outputs turn NaN after a number of training forward calls."""

    def __init__(self, calls: int):
        super().__init__()
        self.net, self.calls_left = mlp(), calls

    def forward(self, x):
        out = self.net(x)
        if self.training:
            self.calls_left -= 1
            if self.calls_left < 0:
                return out * float("nan")
        return out


def test_nan_steps_are_skipped_and_a_streak_stops_the_run(tmp_path):
    model = ExplodesLater(calls=7 * 2 + 3)  # 7 batches per epoch: breaks at step 18, epoch 3
    with pytest.raises(TrainError, match=r"loss stayed non-finite for 5 steps in a row "
                                         r"\(epoch 4, steps 18-22; the last loss was nan\)") \
            as error:
        run(model, classification_data(), tmp_path, epochs=5)
    assert "an op of the model produced NaN/inf" in str(error.value)
    assert "last good checkpoint is" in str(error.value)
    with open(tmp_path / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["skipped_steps"] for r in rows] == ["0", "0", "4"]  # epoch 3 lost steps 18-21
    losses = [float(r["train_loss"]) for r in rows]
    assert all(np.isfinite(losses))  # the mean over the finite steps
    last = load_checkpoint(tmp_path / "checkpoints" / "last.safetensors")
    assert last.metadata["epoch"] == "3"
    assert all(torch.isfinite(t).all() for t in last.state_dict.values())
    for name, tensor in model.state_dict().items():  # no update after the last finite step
        assert torch.equal(tensor, last.state_dict[name]), name


def with_nan_features(data: PreparedData, rows: slice | int) -> PreparedData:
    x = data.train.x.copy()
    x[rows, 0] = np.nan
    return PreparedData(Split({"x": x}, data.train.y), data.val, data.test, data.task,
                        data.feature_names, data.class_names)


def test_one_bad_sample_costs_its_batch_each_epoch_and_no_more(tmp_path):
    result = run(mlp(), with_nan_features(classification_data(), 5), tmp_path, epochs=3)
    assert [r["skipped_steps"] for r in result.history] == [1, 1, 1]
    assert result.skipped_steps == 3
    assert all(np.isfinite(r["train_loss"]) for r in result.history)


def test_nan_in_the_data_is_named_as_the_cause(tmp_path):
    bad = with_nan_features(classification_data(), slice(None, None, 10))  # in every batch
    with pytest.raises(TrainError, match=r"stayed non-finite for 5 steps in a row \(epoch 1, "
                                         r"steps 1-5;") as error:
        run(mlp(), bad, tmp_path, epochs=2)
    assert "the train data holds NaN or inf values" in str(error.value)
    assert "last good checkpoint" not in str(error.value)  # none was written yet


def test_tensorboard_events_hold_the_scalars(tmp_path):
    result = run(mlp(), classification_data(), tmp_path, epochs=3)
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "val/loss", "val/accuracy", "train/loss_step",
            "test/loss", "test/accuracy"} <= tags
    val_loss = events.Scalars("val/loss")
    assert [e.step for e in val_loss] == [7, 14, 21]  # the global step at each epoch's end
    assert [e.value for e in val_loss] == pytest.approx(
        [r["val_loss"] for r in result.history], rel=1e-6)
    assert [e.step for e in events.Scalars("train/loss_step")] == [5, 10, 15, 20]


def test_the_schedule_sets_each_epochs_learning_rate(tmp_path):
    schedule = [LinearWarmupSchedule(steps=7), CosineSchedule(min_lr=0.001)]
    result = run(mlp(), classification_data(), tmp_path, epochs=4, lr=0.1, schedule=schedule)
    # each epoch's lr: the mean of its 7 steps' (the warmup's epoch: 0, 1/7, ..., 6/7 of 0.1)
    expected = [sum(lr_at(s, 7, 28, 0.1, schedule) for s in range(7 * e, 7 * e + 7)) / 7
                for e in range(4)]
    assert [r["lr"] for r in result.history] == pytest.approx(expected, rel=1e-9)
    assert result.history[0]["lr"] == pytest.approx(0.1 * 3 / 7)


def test_gradient_clipping_bounds_one_sgd_step(tmp_path):
    data = regression_data()
    huge_targets = Split(data.train.inputs, data.train.y * 1000)  # huge gradients
    data = PreparedData(huge_targets, data.val, data.test, "regression", data.feature_names)
    model = mlp(inputs=3, outputs=1)
    start = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    run(model, data, tmp_path, epochs=1, batch_size=1000, optimizer=SGDConfig(lr=0.1),
        regularization=RegularizationConfig(grad_clip_norm=0.5))
    moved = torch.cat([p.detach().flatten() for p in model.parameters()]) - start
    assert moved.norm().item() == pytest.approx(0.1 * 0.5, rel=1e-4)


def test_regression_and_binary_tasks(tmp_path):
    result = run(mlp(inputs=3, outputs=2), regression_data(outputs=2), tmp_path / "r",
                 epochs=30, lr=0.02)
    assert set(result.test_metrics) == {"test_loss", "test_mae", "test_rmse", "test_r2"}
    assert result.test_metrics["test_r2"] > 0.9
    result = run(mlp(outputs=1), binary_data(), tmp_path / "b", epochs=8)
    assert result.val_metrics["val_accuracy"] >= 0.95


def test_an_output_that_does_not_fit_the_targets_is_dls402(tmp_path):
    with pytest.raises(TrainError, match=r"outputs \(N, 4\) but the data has 3 classes") as e:
        run(mlp(outputs=4), classification_data(), tmp_path)
    assert e.value.codes == ["DLS402"]
    with pytest.raises(TrainError, match=r"outputs \(N, 2\) but the regression targets are"):
        run(mlp(inputs=3, outputs=2), regression_data(), tmp_path)


def test_an_unknown_monitor_is_reported_before_training(tmp_path):
    stopping = EarlyStoppingConfig(monitor="val_acc")
    with pytest.raises(TrainError, match="did you mean 'val_accuracy'"):
        run(mlp(), classification_data(), tmp_path,
            regularization=RegularizationConfig(early_stopping=stopping))
    assert list(tmp_path.iterdir()) == []


def test_without_a_val_split_the_train_loss_is_monitored(tmp_path):
    data = classification_data()
    empty = data.val.rows(slice(0, 0))
    data = PreparedData(data.train, empty, empty, data.task, data.feature_names,
                        data.class_names)
    result = run(mlp(), data, tmp_path, epochs=2)
    assert result.monitor == "train_loss" and result.test_metrics == {}
    assert set(result.history[0]) == {"epoch", "step", "lr", "train_loss", "skipped_steps",
                                      "seconds"}
    stopping = EarlyStoppingConfig(monitor="val_loss")
    with pytest.raises(TrainError, match="the val split is empty"):
        run(mlp(), data, tmp_path, regularization=RegularizationConfig(early_stopping=stopping))


def test_console_lines_and_quiet(tmp_path):
    buffer = io.StringIO()
    fit(mlp(), classification_data(), recipe(epochs=2), tmp_path / "a", device="cpu", seed=0,
        metadata={}, console=Console(file=buffer, width=60))
    lines = buffer.getvalue().splitlines()
    assert [line.split()[:2] for line in lines[:2]] == [["epoch", "1/2"], ["epoch", "2/2"]]
    assert "val_accuracy" in lines[0] and lines[2].startswith("test_loss")
    quiet = io.StringIO()
    fit(mlp(), classification_data(), recipe(epochs=1), tmp_path / "b", device="cpu", seed=0,
        metadata={}, console=Console(file=quiet), quiet=True)
    assert quiet.getvalue() == ""

"""`dlspec plot`: learning curves and the confusion matrix as PNG files; TensorBoard carries
the same numbers as metrics.csv, and the learning rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dlspec.api import check, compile_module, load_data, plot_run, recipe_for, train_spec
from dlspec.train.diagnostics.plot import curves
from dlspec.train.diagnostics.schedule_report import spec_lr_curve
from dlspec.train.run_folder.checkpoint import apply_checkpoint, load_checkpoint
from dlspec.train.run_folder.run_dir import read_rows

SPEC = Path(__file__).resolve().parents[3] / "specs" / "mlp-digits.yaml"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_spec(SPEC, ["train.epochs=3"], out_root=tmp_path_factory.mktemp("runs"),
                      run_name="mlp", quiet=True)


def test_curves_read_each_metric_per_split(trained):
    epochs, series = curves(trained.run_dir / "metrics.csv")
    assert epochs == [1, 2, 3]
    assert set(series) == {"loss", "accuracy"}
    assert set(series["loss"]) == {"train", "val"} and set(series["accuracy"]) == {"val"}
    assert series["loss"]["val"] == pytest.approx([r["val_loss"] for r in trained.history],
                                                  rel=1e-5)


def test_plot_writes_curves_and_the_confusion_matrix_of_the_best_weights(trained, tmp_path):
    written = plot_run(trained.run_dir, tmp_path / "plots")
    assert sorted(p.name for p in written) == ["accuracy.png", "confusion_matrix.png",
                                               "loss.png"]
    assert all(p.read_bytes()[:8] == PNG for p in written)


def test_the_confusion_matrix_counts_the_test_predictions(trained):
    from dlspec.train.scoring.evaluate import test_confusion

    checked = check(SPEC, ["train.epochs=3"])
    data = load_data(checked)
    matrix = np.array(test_confusion(compile_module(checked), data, recipe_for(checked),
                                     trained.run_dir, "cpu"))
    model = compile_module(checked)
    apply_checkpoint(model, load_checkpoint(trained.best_checkpoint))
    model.eval()
    with torch.no_grad():
        x = next(iter(data.test.inputs.values()))
        predicted = model(torch.from_numpy(x)).argmax(1).numpy()
    expected = np.zeros((10, 10), dtype=int)
    np.add.at(expected, (data.test.y, predicted), 1)
    assert (matrix == expected).all() and matrix.sum() == len(data.test)
    accuracy = np.trace(matrix) / matrix.sum()
    assert accuracy == pytest.approx(trained.test_metrics["test_accuracy"], rel=1e-6)


def test_tensorboard_holds_the_csv_numbers_and_the_learning_rate(trained):
    rows = read_rows(trained.run_dir / "metrics.csv")
    events = EventAccumulator(str(trained.run_dir / "tb"))
    events.Reload()
    steps = [int(r["step"]) for r in rows]
    for column, tag in (("train_loss", "train/loss"), ("val_loss", "val/loss"),
                        ("val_accuracy", "val/accuracy"), ("lr", "train/lr")):
        scalars = events.Scalars(tag)
        assert [e.step for e in scalars] == steps, tag
        assert [e.value for e in scalars] == pytest.approx(
            [float(r[column]) for r in rows], rel=1e-5), tag
    # each epoch's rate is the mean of its steps' rates (the schedule's own curve)
    curve = spec_lr_curve(check(SPEC, ["train.epochs=3"]))
    per_epoch = np.reshape(curve.lrs, (3, curve.steps_per_epoch)).mean(axis=1)
    assert [e.value for e in events.Scalars("train/lr")] == pytest.approx(per_epoch, rel=1e-5)


def test_a_run_without_a_finished_epoch_is_refused_and_one_without_best_plots_curves(
        trained, tmp_path):
    import shutil

    from dlspec.errors import TrainError

    run_dir = tmp_path / "early"
    shutil.copytree(trained.run_dir, run_dir)
    shutil.rmtree(run_dir / "checkpoints")
    assert [p.name for p in plot_run(run_dir, tmp_path / "a")] == ["loss.png", "accuracy.png"]
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    (run_dir / "metrics.csv").write_text(header + "\n")  # killed inside its first epoch
    with pytest.raises(TrainError, match=f"the run in {run_dir} has not finished an epoch "
                                         "yet: there is nothing to plot") as caught:
        plot_run(run_dir, tmp_path / "b")
    assert caught.value.codes == ["DLS403"]
    (run_dir / "metrics.csv").unlink()  # failed before it opened metrics.csv
    with pytest.raises(TrainError, match="has not finished an epoch yet"):
        plot_run(run_dir, tmp_path / "c")
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()

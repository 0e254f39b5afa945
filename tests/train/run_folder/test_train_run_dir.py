"""Run folders, the metrics CSV, result.json, the monitor and the device choice."""

from __future__ import annotations

import json
import math

import pytest
import torch

from dlspec.errors import TrainError
from dlspec.train.engine.device import resolve_device
from dlspec.train.engine.monitor import Monitor, make_monitor
from dlspec.train.engine.reporting import epoch_line, scalar_tag
from dlspec.train.recipe.config import EarlyStoppingConfig
from dlspec.train.run_folder.run_dir import (
    MetricsCsv,
    RunFiles,
    make_run_dir,
    read_rows,
    write_result,
)

NOON = 1_700_000_000.0


def test_run_dirs_are_named_by_time_and_unique_within_a_second(tmp_path):
    first = make_run_dir(tmp_path / "runs", "mlp", now=NOON)
    second = make_run_dir(tmp_path / "runs", "mlp", now=NOON)
    third = make_run_dir(tmp_path / "runs", "mlp", now=NOON)
    assert first.name.startswith("mlp-") and len(first.name) == len("mlp-YYYYmmdd-HHMMSS")
    assert (second.name, third.name) == (f"{first.name}-2", f"{first.name}-3")
    assert all(p.is_dir() for p in (first, second, third))


def test_run_files_layout(tmp_path):
    files = RunFiles(tmp_path / "run").create()
    assert files.tensorboard.is_dir() and files.checkpoints.is_dir()
    assert files.best == tmp_path / "run" / "checkpoints" / "best.safetensors"
    assert files.last.name == "last.safetensors" and files.result_json.name == "result.json"


def test_metrics_csv_is_flushed_row_by_row(tmp_path):
    table = MetricsCsv(tmp_path / "m.csv", ["epoch", "loss"])
    table.write({"epoch": 1, "loss": 0.123456789})
    assert (tmp_path / "m.csv").read_text().splitlines() == ["epoch,loss", "1,0.123457"]
    table.close()


def test_a_resumed_csv_drops_rows_after_the_checkpoint_and_appends(tmp_path):
    path = tmp_path / "metrics.csv"
    first = MetricsCsv(path, ["epoch", "step", "loss"])
    for epoch in (1, 2, 3):
        first.write({"epoch": epoch, "step": 10 * epoch, "loss": 1.0 / epoch})
    first.close()  # a crash after epoch 3, whose checkpoint was epoch 2 (step 20)
    resumed = MetricsCsv(path, ["epoch", "step", "loss"], resume_step=20)
    resumed.write({"epoch": 3, "step": 30, "loss": 0.25})
    resumed.close()
    assert path.read_text().splitlines() == ["epoch,step,loss", "1,10,1", "2,20,0.5",
                                             "3,30,0.25"]
    assert read_rows(path, until_step=10) == [{"epoch": "1", "step": "10", "loss": "1"}]


def test_result_json_turns_non_finite_numbers_into_null(tmp_path):
    write_result(tmp_path / "r.json", {"a": math.nan, "b": [1.0, math.inf], "c": {"d": 2}})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": None, "b": [1.0, None],
                                                             "c": {"d": 2}}


def test_monitor_on_a_crafted_sequence_stops_at_the_right_epoch():
    monitor = Monitor("val_loss", "min", min_delta=0.01, patience=3)
    values = [1.0, 0.8, 0.795, 0.9, 0.7, 0.71, 0.695, 0.72, 0.75, 0.5]
    stopped_at = None
    for epoch, value in enumerate(values, start=1):
        monitor.update(epoch, value)
        if monitor.should_stop:
            stopped_at = epoch
            break
    # improvements at epochs 1, 2, 5; 0.795 and 0.695 are within min_delta; stop after 6,7,8
    assert (stopped_at, monitor.best_epoch, monitor.best) == (8, 5, 0.7)


def test_monitor_max_mode_and_nan():
    monitor = Monitor("val_accuracy", "max")
    assert [monitor.update(e, v) for e, v in enumerate([0.5, math.nan, 0.6, 0.6], 1)] == [
        True, False, True, False]
    assert not monitor.should_stop  # no patience: never stops


def test_make_monitor_defaults_and_errors():
    assert make_monitor(None, ["train_loss", "val_loss"], True).name == "val_loss"
    assert make_monitor(None, ["train_loss"], False).name == "train_loss"
    chosen = make_monitor(EarlyStoppingConfig(monitor="val_r2", patience=4),
                          ["train_loss", "val_loss", "val_r2"], True)
    assert (chosen.mode, chosen.patience) == ("max", 4)
    with pytest.raises(TrainError, match="did you mean 'val_r2'") as error:
        make_monitor(EarlyStoppingConfig(monitor="val_r"), ["train_loss", "val_r2"], True)
    assert error.value.codes == ["DLS102"]


def test_tags_and_epoch_lines():
    assert scalar_tag("val_accuracy") == "val/accuracy" and scalar_tag("lr") == "train/lr"
    line = epoch_line({"epoch": 3, "step": 30, "lr": 0.001, "train_loss": 0.5,
                       "val_loss": 0.25, "seconds": 0.5}, 12, improved=True)
    assert line == "epoch  3/12  train_loss 0.5000  val_loss 0.2500  lr 1.00e-03  0.50s  *"


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(TrainError, match="PyTorch sees no CUDA GPU") as error:
            resolve_device("cuda")
        assert error.value.codes == ["DLS403"]
        assert "device: auto" in error.value.diagnostics[0].hint


def test_a_run_folder_drops_dead_writers_temp_files_when_it_starts(tmp_path):
    from dlspec.files import HOST, MARK

    files = RunFiles(tmp_path).create()
    dead = f".last.safetensors.{MARK}-{HOST}-{2**31 + 5}-1.tmp"  # no process has that pid
    (files.checkpoints / dead).write_bytes(b"partial")
    (tmp_path / ".metrics.csv.dlspec-00000000-1-1.tmp").write_text("another machine's")
    RunFiles(tmp_path).create()
    assert not (files.checkpoints / dead).exists()
    assert (tmp_path / ".metrics.csv.dlspec-00000000-1-1.tmp").exists()


def test_a_resumed_csv_is_left_as_it_is_until_its_first_row(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,loss\n1,10,1\n2,20,0.5\n3,30,0.3\n")
    resumed = MetricsCsv(path, ["epoch", "step", "loss"], resume_step=20)
    assert path.read_text().endswith("3,30,0.3\n")  # a resume that fails here changes nothing
    resumed.write({"epoch": 3, "step": 30, "loss": 0.25})
    resumed.close()
    assert path.read_text().splitlines()[-2:] == ["2,20,0.5", "3,30,0.25"]


def test_a_full_disk_while_writing_metrics_is_a_located_error(tmp_path):
    import csv
    import errno
    import io

    class FullDisk(io.StringIO):
        def flush(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    table = MetricsCsv(tmp_path / "metrics.csv", ["epoch", "loss"])
    table._file = FullDisk()
    table._writer = csv.DictWriter(table._file, fieldnames=table.columns)
    with pytest.raises(TrainError, match=f"no space left on the device to write metrics.csv "
                                         f"in {tmp_path}: it needs about") as caught:
        table.write({"epoch": 1, "loss": 0.5})
    assert caught.value.codes == ["DLS410"]

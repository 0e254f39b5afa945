"""dlspec.train.run_folder.run_records: a damaged run.json, result.json or metrics.csv is a
located DLS419 naming the file and the field, never a JSON/Key/Type error."""

from __future__ import annotations

import json

import pytest

from dlspec.errors import DlspecError, TrainError
from dlspec.train.run_folder.run_dir import read_rows
from dlspec.train.run_folder.run_records import read_csv_rows, read_result_json, read_run_json
from dlspec.train.run_folder.run_spec import run_record


def problem(reader, path, *args):
    """(line, col, message) of the one DLS419 `reader(path)` raises."""
    with pytest.raises(TrainError) as caught:
        reader(path, *args)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "DLS419" and diagnostic.span.file == str(path)
    return diagnostic.span.line, diagnostic.span.col, diagnostic.message


GOOD_RUN = {"spec": "/data/mlp.yaml", "overrides": ["hidden=32"]}


@pytest.mark.parametrize("text, where, why", [
    ('{"spec": "a.yaml",\n "overrides": [}', (2, 16), "it is not valid JSON (Expecting value)"),
    ("", (1, 1), "it is not valid JSON (Expecting value)"),
    ('["spec", "overrides"]', (1, 1), "it holds a JSON list, not an object"),
    ('{"overrides": []}', (1, 1), "'spec' is missing"),
    ('{"spec": 5, "overrides": []}', (1, 1), "'spec' is 5: input should be a valid string"),
    ('{"spec": "a", "overrides": "hidden=3"}', (1, 1),
     "'overrides' is \"hidden=3\": input should be a valid list"),
    ('{"spec": "a", "overrides": [3]}', (1, 1),
     "'overrides.0' is 3: input should be a valid string"),
    ('{"spec": "a", "overrides": [], "epochs": "two"}', (1, 1),
     "'epochs' is \"two\": input should be a valid integer"),
    ('{"spec": "a", "overrides": [], "epochs": -5}', (1, 1),
     "'epochs' is -5: input should be greater than or equal to 1"),
    ("[" * 100_000, (1, 1), "it is nested too deeply to be what dlspec wrote"),
])
def test_a_damaged_run_json_is_located_and_names_the_field(tmp_path, text, where, why):
    path = tmp_path / "run.json"
    path.write_text(text)
    line, col, message = problem(read_run_json, path)
    assert (line, col) == where
    assert message == f"run.json of the run in {tmp_path} is damaged: {why}"


def test_a_good_run_json_reads_back_as_written_and_unknown_keys_are_kept(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({**GOOD_RUN, "epochs": 4, "later": True}))
    assert read_run_json(path) == {**GOOD_RUN, "epochs": 4, "later": True}


def test_run_record_of_a_run_folder_reports_the_damage(tmp_path):
    (tmp_path / "spec.yaml").write_text("dlspec: 1\n")
    (tmp_path / "run.json").write_bytes(b'{"spec": "\xff"}')
    with pytest.raises(TrainError) as caught:
        run_record(tmp_path)
    assert str(caught.value) == (f"{tmp_path / 'run.json'}:1:1: error DLS419: run.json of the "
                                 f"run in {tmp_path} is damaged: it is not UTF-8 text (byte 10)"
                                 "\n  help: it was changed since dlspec wrote it; restore it "
                                 "from a backup, or train again for a new run")


def test_a_huge_or_unreadable_record_is_refused_before_reading_it_whole(tmp_path):
    path = tmp_path / "result.json"
    path.write_text(" " * (1 << 20) + "{}")
    assert problem(read_result_json, path)[2].endswith("it is larger than 1 MiB")
    path.unlink()
    path.mkdir()
    assert "it is a folder, not a regular file" in problem(read_result_json, path)[2]


@pytest.mark.parametrize("text, why", [
    ("{not json", "it is not valid JSON (Expecting property name enclosed in double quotes)"),
    ('"finished"', "it holds a JSON str, not an object"),
    ('{"epochs_run": "3"}', "'epochs_run' is \"3\": input should be a valid integer"),
])
def test_a_damaged_result_json_is_reported(tmp_path, text, why):
    path = tmp_path / "result.json"
    path.write_text(text)
    assert problem(read_result_json, path)[2].endswith(f"is damaged: {why}")


HEADER = "epoch,step,lr,train_loss,val_loss\n"


@pytest.mark.parametrize("text, where, why", [
    ("", (1, 1), "it has no 'step' column (it is empty)"),
    ("epoch,lr\n1,0.1\n", (1, 1), "it has no 'step' column (its header is epoch,lr)"),
    (HEADER + "1,10,0.1,0.5,0.6\n2,x,0.1,0.4,0.5\n", (3, 2),
     "'step' on line 3 is 'x', not a whole number"),
    (HEADER + "1,10,0.1,0.5,0.6,7\n", (2, 1), "line 2 has 6 cells, the header names 5"),
    (HEADER + "1,10,0.1,lots,0.6\n", (2, 4), "'train_loss' on line 2 is 'lots', not a number"),
    (HEADER + "1,10,0.1,0.5,0.6\x00\n", (2, 5), "'val_loss' on line 2 is '0.6\\x00', not a number"),
])
def test_a_damaged_metrics_csv_is_located(tmp_path, text, where, why):
    path = tmp_path / "metrics.csv"
    path.write_text(text)
    line, col, message = problem(read_csv_rows, path)
    assert message == f"metrics.csv of the run in {tmp_path} is damaged: {why}"
    assert (line, col) == where


def test_metrics_rows_read_back_with_empty_and_nan_cells_and_stop_at_a_step(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(HEADER + "1,10,0.1,nan,\n2,20,0.1,0.4,0.5\n3,30,0.1,0.3\n")
    assert [r["step"] for r in read_rows(path)] == ["10", "20", "30"]
    assert [r["val_loss"] for r in read_rows(path, until_step=20)] == ["", "0.5"]
    with pytest.raises(DlspecError, match="'epoch' on line 2 is '1.5'"):
        path.write_text(HEADER + "1.5,10,0.1,0.5,0.6\n")
        read_csv_rows(path, required=("step", "epoch"))


@pytest.mark.parametrize("kind", ["link to /dev/zero", "fifo", "folder"])
@pytest.mark.parametrize("name", ["run.json", "result.json", "metrics.csv"])
def test_a_record_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path, kind,
                                                                            name):
    """A link to /dev/zero was read without end (metrics.csv: until memory ran out); a FIFO
    blocked the open; a run.json that is not a file was taken for a run without one."""
    import os

    path = tmp_path / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    reader = {"run.json": read_run_json, "result.json": read_result_json,
              "metrics.csv": read_csv_rows}[name]
    _, _, message = problem(reader, path)
    what = "a folder" if kind == "folder" else "a device, pipe or socket"
    assert message == f"{name} of the run in {tmp_path} is damaged: it is {what}, not a " \
                      "regular file"
    if name == "run.json":
        (tmp_path / "spec.yaml").write_text("dlspec: 1\n")
        with pytest.raises(TrainError, match="not a regular file") as caught:
            run_record(tmp_path)
        assert caught.value.diagnostics[0].span.file == str(path)

"""A run's spec: saved with its overrides, read back with the original spec's folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlspec.api import check, load_data
from dlspec.errors import TrainError
from dlspec.train.run_folder.run_spec import (
    check_same_spec,
    load_run_spec,
    record_epochs,
    run_record,
    save_run_spec,
)

SPEC = """\
dlspec: 1
name: table
inputs: {x: {shape: [3]}}
model:
  - {op: linear, out_features: 1}
loss: {op: mse}
data: {dataset: csv, path: data/table.csv, target: y, split: [0.6, 0.2, 0.2]}
"""


@pytest.fixture
def project(tmp_path):
    """A spec whose data file is next to it, in data/."""
    (tmp_path / "data").mkdir()
    rows = np.random.default_rng(0).normal(size=(20, 3)).round(3)
    lines = ["a,b,c,y"] + [f"{a},{b},{c},{a + b}" for a, b, c in rows]
    (tmp_path / "data" / "table.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "spec.yaml").write_text(SPEC)
    return tmp_path


def test_a_saved_run_spec_loads_with_its_overrides_and_data_folder(project):
    checked = check(project / "spec.yaml", ["train.epochs=2", "data.seed=4"])
    run_dir = project / "runs" / "one"
    run_dir.mkdir(parents=True)
    save_run_spec(run_dir, checked, ["train.epochs=2", "data.seed=4"])
    assert (run_dir / "spec.yaml").read_text() == SPEC
    assert json.loads((run_dir / "ir.json").read_text())["name"] == "table"
    assert run_record(run_dir) == {"spec": str((project / "spec.yaml").resolve()),
                                   "overrides": ["train.epochs=2", "data.seed=4"]}
    again = load_run_spec(run_dir)
    assert again.spec.data.seed == 4 and again.spec.train.epochs == 2
    assert again.loaded.base_dir == project.resolve()
    assert (load_data(again).train.inputs["x"] == load_data(checked).train.inputs["x"]).all()


def test_resuming_with_another_spec_or_other_overrides_is_refused(project):
    run_dir = project / "run"
    run_dir.mkdir()
    save_run_spec(run_dir, check(project / "spec.yaml"), [])
    check_same_spec(run_dir, project / "spec.yaml", [])  # the same: fine
    check_same_spec(run_dir, None, [])
    changed = project / "changed.yaml"
    changed.write_text(SPEC.replace("out_features: 1", "out_features: 3"))
    with pytest.raises(TrainError, match=r"first difference at line 5: '- \{op: linear, "
                                         r"out_features: 1\}' became '- \{op: linear, "
                                         r"out_features: 3\}'"):
        check_same_spec(run_dir, changed, [])
    longer = project / "longer.yaml"
    longer.write_text(SPEC + "export: {opset: 18}\n")
    with pytest.raises(TrainError, match="it has 1 more lines"):
        check_same_spec(run_dir, longer, [])
    with pytest.raises(TrainError, match=r"--resume was given the overrides \['x=1'\]"):
        check_same_spec(run_dir, None, ["x=1"])


def test_a_resumed_run_may_move_to_another_device_and_take_more_epochs(project):
    run_dir = project / "run"
    run_dir.mkdir()
    save_run_spec(run_dir, check(project / "spec.yaml"), ["data.seed=4", "train.epochs=2"])
    moved = check_same_spec(run_dir, None, ["train.device=cpu"])
    assert moved == ["train.device=cpu"]
    assert check_same_spec(run_dir, None, ["data.seed=4", "train.device=cpu"]) == moved
    again = load_run_spec(run_dir, moved)
    assert again.spec.train.device == "cpu" and again.spec.train.epochs == 2
    moved = check_same_spec(run_dir, None, ["data.seed=4", "train.epochs=5"])
    assert moved == ["train.epochs=5"] and load_run_spec(run_dir, moved).spec.train.epochs == 5
    record_epochs(run_dir, 5)  # the extended run started: a later --resume keeps 5 epochs
    assert run_record(run_dir)["epochs"] == 5 and load_run_spec(run_dir).spec.train.epochs == 5
    with pytest.raises(TrainError, match=r"given the overrides \['train.seed=3'\]"):
        check_same_spec(run_dir, None, ["train.seed=3", "train.device=cpu"])


def test_a_folder_without_spec_is_not_a_run(tmp_path):
    with pytest.raises(TrainError, match="is not a run folder"):
        load_run_spec(tmp_path)

"""A resume checkpoint records the spec and overrides its run was started with: a run whose
spec.yaml or run.json was edited since, or whose checkpoints come from another run, is
refused on resume naming the difference (not a `size mismatch` traceback, nor a run that
silently goes on with other settings)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from train_data_fixtures import digits_mlp_spec

from dlspec.api import train_spec
from dlspec.errors import TrainError

SPEC = digits_mlp_spec("identity", """\
optimizer: {op: adam, lr: 1e-3}
data: {dataset: digits, split: [0.8, 0.1, 0.1], batch_size: 256}
train: {epochs: 1, seed: 0}
""")
WIDER = "model.0.out_features=48"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two stopped runs of one spec: `plain`, and `wider` with --set model.0.out_features=48."""
    root = tmp_path_factory.mktemp("runs")
    spec = root / "spec.yaml"
    spec.write_text(SPEC)
    for name, overrides in (("plain", []), ("wider", [WIDER])):
        run = train_spec(spec, overrides, out_root=root, run_name=name, quiet=True).run_dir
        (run / "result.json").unlink()  # as if killed after its last checkpoint
    return root


def copy(runs: Path, tmp_path: Path, name: str = "plain") -> Path:
    return Path(shutil.copytree(runs / name, tmp_path / name))


def refused(run: Path) -> str:
    with pytest.raises(TrainError) as caught:
        train_spec(None, resume=run, quiet=True)
    assert caught.value.codes == ["DLS404"]
    message = str(caught.value)
    assert f"the resume checkpoint of {run} does not belong to the run in that folder" \
        in message
    return message


@pytest.mark.parametrize("edit, old, new", [
    ("{op: dropout, p: 0.3}", "- {op: dropout, p: 0.3}", "- {op: dropout, p: 0.5}"),
    ("name: fc1, out_features: 32", "- {op: linear, name: fc1, out_features: 32}",
     "- {op: linear, name: fc1, out_features: 64}")])
def test_an_edited_spec_yaml_is_refused_naming_the_first_difference(runs, tmp_path, edit,
                                                                    old, new):
    run = copy(runs, tmp_path)
    text = (run / "spec.yaml").read_text()
    changed = text.replace(edit, edit.replace("0.3", "0.5").replace("32", "64"))
    (run / "spec.yaml").write_text(changed)
    message = refused(run)
    assert (f"spec.yaml was changed after the checkpoint was written (first difference at "
            f"line {text.splitlines().index('  ' + old) + 1}: {old!r} became {new!r})"
            in message), message


def test_edited_overrides_in_run_json_are_refused(runs, tmp_path):
    run = copy(runs, tmp_path)
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "overrides": [WIDER]}))
    assert re.search(r"the checkpoint was written by a run with no overrides, but run.json "
                     rf"says --set {WIDER}", refused(run))


def test_checkpoints_from_another_run_are_refused(runs, tmp_path):
    run = copy(runs, tmp_path)
    shutil.rmtree(run / "checkpoints")
    shutil.copytree(runs / "wider" / "checkpoints", run / "checkpoints")
    assert f"the checkpoint was written by a run with --set {WIDER}, but run.json says no " \
           f"overrides" in refused(run)


def test_the_device_and_epochs_may_change_on_resume(runs, tmp_path):
    run = copy(runs, tmp_path, "wider")
    result = train_spec(None, ["train.device=cpu", "train.epochs=2"], resume=run, quiet=True)
    assert result.epochs_run == 2

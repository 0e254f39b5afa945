"""A damaged run folder, as a user meets it: a flipped bit in a checkpoint and a corrupt
run.json, result.json or metrics.csv end in a located DLS error naming the file (never a
traceback), and `evaluate` says which weights it measured."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlspec.cli import app

SPECS = Path(__file__).resolve().parents[1] / "specs"
runner = CliRunner()


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """mlp-digits, hidden 16, trained for 1 epoch."""
    out = tmp_path_factory.mktemp("runs")
    result = run("train", SPECS / "mlp-digits.yaml", "--set", "hidden=16", "--epochs", "1",
                 "--name", "tiny", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    return out / "tiny"


@pytest.fixture
def copy(trained, tmp_path):
    """A copy of the trained run folder to damage (hard links broken: each file its own)."""
    return Path(shutil.copytree(trained, tmp_path / "tiny"))


def flip_bit(path: Path, tensor: str) -> None:
    raw = bytearray(path.read_bytes())
    (size,) = struct.unpack("<Q", raw[:8])
    start = json.loads(raw[8:8 + size])[tensor]["data_offsets"][0]
    raw[8 + size + start + 2] ^= 0x10
    path.write_bytes(bytes(raw))


def test_evaluate_names_the_weights_it_used_and_warns_when_best_is_missing(copy):
    table = run("evaluate", copy, "--split", "val")
    assert table.exit_code == 0, table.output
    best = copy / "checkpoints" / "best.safetensors"
    epoch = json.loads((copy / "result.json").read_text())["best_epoch"]
    assert f"weights: {best}, epoch {epoch}\n" in table.stdout
    assert "warning" not in table.output
    best.unlink()
    fallback = run("evaluate", copy, "--split", "val", "--json")
    assert fallback.exit_code == 0, fallback.output
    report = json.loads(fallback.stdout)
    assert report["weights"] == str(copy / "checkpoints" / "last.safetensors")
    assert report["epoch"] == 1
    assert report["warning"] == (
        f"{best} is missing (no epoch had a finite value of the monitored metric, or it was "
        "deleted): evaluated the run's LAST weights, last.safetensors, instead")
    assert f"warning: {report['warning']}\n" in fallback.stderr


@pytest.mark.parametrize("command", [["evaluate"], ["export", "-o", "model.onnx"]])
def test_a_flipped_bit_in_the_best_weights_is_refused_naming_file_and_tensor(copy, command):
    best = copy / "checkpoints" / "best.safetensors"
    flip_bit(best, "fc2.weight")
    args = [a if a != "model.onnx" else copy / a for a in command[1:]]
    result = run(command[0], copy, *args)
    assert result.exit_code == 1
    assert (f"error DLS404: checkpoint {best} is damaged: the data of tensor 'fc2.weight' "
            "does not match its checksum") in result.output
    assert not (copy / "model.onnx").exists()


def test_a_flipped_bit_in_the_resume_state_is_refused(copy):
    state = copy / "checkpoints" / "resume.safetensors"
    with open(state, "rb") as handle:
        size = struct.unpack("<Q", handle.read(8))[0]
        header = json.loads(handle.read(size))
    buffer = next(name for name in header if name != "__metadata__")
    flip_bit(state, buffer)
    result = run("train", "--resume", copy, "--epochs", "2", "--quiet")
    assert result.exit_code == 1
    assert (f"error DLS404: checkpoint {state} is damaged: the data of tensor '{buffer}' "
            "does not match its checksum") in result.output


@pytest.mark.parametrize("file, text, command, where, why", [
    ("run.json", '{"spec": "x.yaml", "overrides": [', ["evaluate"], "1:34",
     "it is not valid JSON (Expecting value)"),
    ("run.json", '{"spec": "x.yaml", "overrides": "hidden=16"}', ["evaluate"], "1:1",
     "'overrides' is \"hidden=16\": input should be a valid list"),
    ("result.json", '{"epochs_run": [2]}', ["train", "--resume"], "1:1",
     "'epochs_run' is [2]: input should be a valid integer"),
    ("metrics.csv", "epoch,step,lr\n1,x,0.1\n", ["plot"], "2:2",
     "'step' on line 2 is 'x', not a whole number"),
])
def test_a_corrupt_run_file_is_a_located_error_naming_it(copy, file, text, command, where,
                                                          why):
    (copy / file).write_text(text)
    result = run(*command, copy)
    assert result.exit_code == 1
    assert (f"{copy / file}:{where}: error DLS419: {file} of the run in {copy} is damaged: "
            f"{why}") in result.output

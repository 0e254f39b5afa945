"""The command line, as a user types it: compile, train, export, predict, schema."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dlspec.cli import app

SPECS = Path(__file__).resolve().parents[1] / "specs"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_compile_prints_the_layer_table_and_writes_the_ir(tmp_path):
    ir = tmp_path / "ir.json"
    result = run("compile", SPECS / "mlp-digits.yaml", "--ir", ir)
    assert result.exit_code == 0, result.output
    assert "fc1" in result.output and "(N, 128)" in result.output
    assert "26,122" in result.output  # 64*128+128 + 128*128+128 + 128*10+10
    assert json.loads(ir.read_text())["layers"][0]["name"] == "fc1"


def test_compile_error_is_located_and_writes_no_ir(tmp_path):
    ir = tmp_path / "ir.json"
    result = run("compile", SPECS / "mlp-digits.yaml", "--set", "model.0.out_features=0",
                 "--ir", ir)
    assert result.exit_code == 1
    assert ("--set model.0.out_features=0:1:1: error DLS102: in layer 'fc1' (linear)"
            in result.output)
    assert not ir.exists()


def test_bad_override_is_reported():
    result = run("validate", SPECS / "mlp-digits.yaml", "--set", "hiden=3")
    assert result.exit_code == 1
    assert "DLS120" in result.output and "did you mean 'hidden'?" in result.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    result = run("train", SPECS / "mlp-digits.yaml", "--epochs", "3", "--seed", "1",
                 "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    (run_dir,) = out.iterdir()
    return run_dir


def test_train_options_reach_the_run(trained):
    rows = (trained / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 3  # --epochs 3
    assert "spec_sha256" in (trained / "checkpoints" / "best.safetensors").read_bytes()[:4096] \
        .decode("utf-8", "replace")


def test_export_then_predict(trained, tmp_path):
    model = tmp_path / "mlp.onnx"
    result = run("export", SPECS / "mlp-digits.yaml", "--weights", trained, "-o", model)
    assert result.exit_code == 0, result.output
    assert "max abs diff" in result.output
    samples = tmp_path / "x.npy"
    np.save(samples, np.random.default_rng(0).uniform(0, 16, size=(7, 64)).astype("float32"))
    result = run("predict", model, "--input", samples, "-o", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert len(lines) == 8 and lines[0].startswith("prediction,p_0")


def test_export_with_wrong_weights_fails_cleanly(trained, tmp_path):
    model = tmp_path / "cnn.onnx"
    result = run("export", SPECS / "cnn-digits.yaml", "--weights", trained, "-o", model)
    assert result.exit_code == 1
    assert "DLS404" in result.output and "missing" in result.output
    assert not model.exists()


def test_schema_command_writes_the_committed_schema(tmp_path):
    output = tmp_path / "schema.json"
    assert run("schema", "-o", output).exit_code == 0
    assert output.read_text() == (SPECS.parent / "schemas" / "dlspec.schema.json").read_text()

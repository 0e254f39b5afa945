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


def test_evaluate_prints_the_metric_table_or_json(trained):
    spec = SPECS / "mlp-digits.yaml"
    result = run("evaluate", spec, "--weights", trained, "--split", "val", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["split"] == "val" and report["samples"] == 180
    assert set(report["metrics"]) == {"val_loss", "val_accuracy"}
    table = run("evaluate", spec, "--weights", trained)
    assert table.exit_code == 0, table.output
    assert "test split, 180 samples" in table.output and "accuracy" in table.output
    assert run("evaluate", spec, "--weights", trained, "--split", "dev").exit_code == 2


def test_plot_writes_pngs_of_a_run(trained, tmp_path):
    result = run("plot", trained, "-o", tmp_path)
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'confusion_matrix.png'}" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accuracy.png",
                                                          "confusion_matrix.png", "loss.png"]


def test_lr_find_suggests_a_rate_and_plots_it(tmp_path):
    result = run("lr-find", SPECS / "mlp-digits.yaml", "--steps", "60", "--plot",
                 tmp_path / "lr.png")
    assert result.exit_code == 0, result.output
    assert "suggested lr: " in result.output and (tmp_path / "lr.png").exists()
    quiet = run("lr-find", SPECS / "mlp-digits.yaml", "--steps", "60", "--max-lr", "1e-4")
    assert quiet.exit_code == 0, quiet.output
    assert "no suggestion: the smoothed loss fell by " in quiet.output
    assert "within its batch-to-batch noise" in quiet.output


def test_train_resume_needs_a_run_that_can_go_on(trained):
    result = run("train", "--resume", trained)
    assert result.exit_code == 1 and "already finished (epoch 3)" in result.output
    assert run("train").exit_code == 2  # neither a spec nor --resume


def test_overfit_batch_reports_memorization(tmp_path):
    result = run("train", SPECS / "mlp-digits.yaml", "--overfit-batch", "16",
                 "--overfit-steps", "60", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("memorized 16 examples in 60 steps (loss ")


def test_detect_anomaly_names_the_op_that_overflowed(tmp_path):
    result = run("train", SPECS / "mlp-digits.yaml", "--set", "optimizer.lr=1e30", "--epochs",
                 "1", "--detect-anomaly", "--out", tmp_path, "--quiet")
    assert result.exit_code == 1
    assert "error DLS403: op addmm produced inf from finite inputs in layer 'fc2' (forward " \
           "pass) at epoch 1, step 3" in result.output


def test_schema_command_writes_the_committed_schema(tmp_path):
    output = tmp_path / "schema.json"
    assert run("schema", "-o", output).exit_code == 0
    assert output.read_text() == (SPECS.parent / "schemas" / "dlspec.schema.json").read_text()


def test_predict_writes_into_the_working_folder_not_beside_the_input(tmp_path, monkeypatch):
    from onnx import TensorProto, helper, save_model

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = tmp_path / "identity.onnx"
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    proto.ir_version = 10  # what the installed ONNX Runtime reads
    save_model(proto, model)
    data = tmp_path / "data"
    data.mkdir()
    np.save(data / "rows.npy", np.arange(6, dtype="float32").reshape(2, 3))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = run("predict", model, "-i", data / "rows.npy")
    assert result.exit_code == 0, result.output
    assert "wrote 2 predictions to rows.predictions.csv" in result.output
    assert (work / "rows.predictions.csv").read_text().splitlines()[1:] == ["0,1,2", "3,4,5"]
    assert sorted(p.name for p in data.iterdir()) == ["rows.npy"]
    result = run("predict", model, "-i", data / "rows.npy", "-o", tmp_path / "p.csv")
    assert result.exit_code == 0 and (tmp_path / "p.csv").exists()  # -o still decides

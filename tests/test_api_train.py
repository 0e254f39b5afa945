"""Training paths beyond the shipped specs: a CSV file next to the spec, binary classification."""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from dlspec.api import check, evaluate_spec, export_spec, load_data, train_spec
from dlspec.backends.onnx_runtime import predict_file, read_metadata
from dlspec.errors import DlspecError

IRIS_SPEC = """
dlspec: 1
name: iris-csv
inputs:
  measurements: {shape: [4]}
model:
  - {op: linear, out_features: 16}
  - {op: tanh}
  - {op: linear, name: species, out_features: 3}
loss: {op: cross_entropy}
optimizer: {op: adam, lr: 0.02}
data: {dataset: csv, path: data/iris.csv, target: species, split: [0.6, 0.2, 0.2], batch_size: 16}
train: {epochs: 40, seed: 0}
"""

CANCER_SPEC = """
dlspec: 1
name: cancer-binary
inputs:
  cells: {shape: [30]}
model:
  - {op: linear, out_features: 16}
  - {op: relu}
  - {op: linear, name: malignant_logit, out_features: 1}
loss: {op: bce_with_logits}
optimizer: {op: adamw, lr: 3e-3}
data: {dataset: breast_cancer, split: [0.7, 0.15, 0.15]}
train: {epochs: 30, seed: 0, metrics: [accuracy, f1]}
"""


def write_iris(folder: Path) -> None:
    from sklearn.datasets import load_iris

    iris = load_iris()
    (folder / "data").mkdir()
    with open(folder / "data" / "iris.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*(n.replace(" (cm)", "").replace(" ", "_") for n in iris.feature_names),
                         "species"])
        for row, label in zip(iris.data, iris.target, strict=True):
            writer.writerow([*row, iris.target_names[label]])


def test_csv_dataset_path_is_relative_to_the_spec(tmp_path, monkeypatch):
    write_iris(tmp_path)
    spec = tmp_path / "iris.yaml"
    spec.write_text(IRIS_SPEC)
    monkeypatch.chdir(Path(__file__).parent)  # anywhere but the spec's folder
    result = train_spec(spec, out_root=tmp_path / "runs", quiet=True)
    assert result.val_metrics["val_accuracy"] >= 0.9
    metadata = json.loads((Path(result.run_dir) / "result.json").read_text())
    assert metadata["epochs_run"] == 40


def test_export_needs_the_weights_not_the_data(tmp_path):
    write_iris(tmp_path)
    spec = tmp_path / "iris.yaml"
    spec.write_text(IRIS_SPEC.replace("epochs: 40", "epochs: 2"))
    result = train_spec(spec, out_root=tmp_path / "runs", quiet=True)
    (tmp_path / "data" / "iris.csv").unlink()  # e.g. exporting on another machine
    report = export_spec(spec, tmp_path / "iris.onnx", weights=result.run_dir)
    assert report.max_abs_diff["species"] <= 1e-5


def test_csv_column_typo_is_a_located_data_error(tmp_path):
    write_iris(tmp_path)
    spec = tmp_path / "iris.yaml"
    spec.write_text(IRIS_SPEC.replace("target: species", "target: specis"))
    with pytest.raises(DlspecError) as caught:
        train_spec(spec, out_root=tmp_path / "runs", quiet=True)
    assert caught.value.codes == ["DLS401"]
    assert "specis" in str(caught.value)
    span = caught.value.diagnostics[0].span  # located at `dataset:` like `dlspec validate`
    data_line = next(i for i, line in enumerate(IRIS_SPEC.splitlines(), 1)
                     if line.startswith("data:"))
    assert (span.file, span.line) == (str(spec), data_line)
    assert not (tmp_path / "runs").exists()  # nothing was started


@pytest.fixture(scope="module")
def cancer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cancer")
    spec = folder / "cancer.yaml"
    spec.write_text(CANCER_SPEC)
    return spec, train_spec(spec, out_root=folder / "runs", quiet=True)


def test_binary_classification_trains_with_one_logit(cancer):
    _, result = cancer
    assert result.val_metrics["val_accuracy"] >= 0.93
    assert result.test_metrics["test_f1"] >= 0.9


def test_binary_export_predicts_probabilities_of_both_classes(cancer, tmp_path):
    from sklearn.datasets import load_breast_cancer

    spec, result = cancer
    model = tmp_path / "cancer.onnx"
    report = export_spec(spec, model, weights=result.run_dir)
    assert report.max_abs_diff["malignant_logit"] <= 1e-5
    assert json.loads(read_metadata(model)["class_names"]) == ["malignant", "benign"]
    data = load_breast_cancer()
    np.save(tmp_path / "cells.npy", data.data[:100].astype("float32"))
    predict_file(model, tmp_path / "cells.npy", tmp_path / "out.csv")
    rows = list(csv.DictReader((tmp_path / "out.csv").read_text().splitlines()))
    assert list(rows[0]) == ["prediction", "p_malignant", "p_benign"]
    probabilities = np.array([[float(r["p_malignant"]), float(r["p_benign"])] for r in rows])
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-9)
    truth = np.array(data.target_names)[data.target[:100]]
    assert np.mean([r["prediction"] for r in rows] == truth) >= 0.9


SIGMOID_CANCER_SPEC = CANCER_SPEC.replace(
    "  - {op: linear, name: malignant_logit, out_features: 1}\n",
    "  - {op: linear, name: malignant_logit, out_features: 1}\n  - {op: sigmoid, name: p}\n",
).replace("bce_with_logits", "bce").replace("epochs: 30", "epochs: 6")


def test_bce_on_a_sigmoid_model_is_scored_on_its_own_probabilities(tmp_path):
    """The model ends in a sigmoid and trains with bce: evaluate's accuracy is that of its
    ONNX output thresholded at 0.5 (a second sigmoid made every row positive: accuracy was
    the positive rate), and predict's probabilities are that output."""
    import onnxruntime

    spec = tmp_path / "cancer.yaml"
    spec.write_text(SIGMOID_CANCER_SPEC)
    run = train_spec(spec, out_root=tmp_path / "runs", quiet=True).run_dir
    model = tmp_path / "cancer.onnx"
    export_spec(spec, model, weights=run)
    assert read_metadata(model)["output_space"] == "probabilities"
    data = load_data(check(spec))
    test = data.test
    cells = (test.x * data.std + data.mean).astype("float32")  # the raw features
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    p = session.run(None, {"cells": cells})[0].ravel()
    onnx_accuracy = np.mean((p > 0.5) == test.y.ravel())
    assert onnx_accuracy >= 0.9 and onnx_accuracy != pytest.approx(test.y.mean())
    metrics = evaluate_spec(spec, run, split="test").metrics
    assert metrics["test_accuracy"] == pytest.approx(onnx_accuracy)
    np.save(tmp_path / "cells.npy", cells)
    predict_file(model, tmp_path / "cells.npy", tmp_path / "out.csv")
    rows = list(csv.DictReader((tmp_path / "out.csv").read_text().splitlines()))
    np.testing.assert_allclose([float(r["p_benign"]) for r in rows], p, rtol=1e-6)
    assert [r["prediction"] for r in rows] == ["benign" if q > 0.5 else "malignant" for q in p]


@pytest.mark.parametrize("section, line, message", [
    ("optimizer: {op: adamw, groups: [{params: ['fc1.*'], lr: 1e-4}, "
     "{params: ['hed.*'], lr: 1e-3}]}", 9, "optimizer.groups[1].params: pattern 'hed.*'"),
    ("optimizer: {op: adamw, no_decay: ['biass']}", 9, "optimizer.no_decay: pattern 'biass'"),
    ("train: {epochs: 1, freeze: ['fc1.*', 'fc3']}", 9, "train.freeze pattern 'fc3'"),
])
def test_parameter_patterns_that_match_nothing_are_located(tmp_path, section, line, message):
    spec = tmp_path / "spec.yaml"
    spec.write_text("dlspec: 1\nname: globs\ninputs: {pixels: {shape: [64]}}\nmodel:\n"
                    "  - {op: linear, name: fc1, out_features: 16}\n  - {op: relu}\n"
                    "  - {op: linear, name: head, out_features: 10}\n"
                    "data: {dataset: digits}\n" + section + "\n")
    with pytest.raises(DlspecError, match=re.escape(message)) as caught:
        train_spec(spec, out_root=tmp_path / "runs", quiet=True)
    [problem] = caught.value.diagnostics
    assert problem.code == "DLS102" and problem.span.line == line
    assert problem.span.file == str(spec)
    assert not (tmp_path / "runs").exists()  # nothing was written

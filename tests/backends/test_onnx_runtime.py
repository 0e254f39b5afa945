"""Loading ONNX files safely and predicting from CSV/.npy files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from dlspec.backends.onnx_export import TensorInfo, export_onnx
from dlspec.backends.onnx_runtime import open_session, predict_file, read_metadata
from dlspec.errors import ExportError

CLASSES = ["cat", "dog", "bird"]


class DigitCNN(nn.Module):
    """A small classifier on (1, 8, 8) images: conv + batchnorm + residual + pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.block = nn.Conv2d(4, 4, 3, padding=1)
        self.head = nn.Linear(4, len(CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm(self.stem(x)))
        h = F.avg_pool2d(h + self.block(h), 2)
        return self.head(h.mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """(eval-mode module, path of its verified ONNX export with classification metadata)."""
    torch.manual_seed(0)
    module = DigitCNN().eval()
    path = tmp_path_factory.mktemp("cnn") / "cnn.onnx"
    metadata = {"task": "classification", "class_names": json.dumps(CLASSES)}
    export_onnx(module, [TensorInfo("image", (1, 8, 8))], ["logits"], path, metadata=metadata)
    return module, path


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).normal(size=(23, 64)).astype(np.float32)


def _torch_probabilities(module: nn.Module, rows: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logits = module(torch.from_numpy(rows).reshape(-1, 1, 8, 8))
    return torch.softmax(logits, dim=1).numpy()


def _write_csv(path: Path, rows: np.ndarray, header: list[str] | None = None) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(header)
        writer.writerows([repr(float(v)) for v in row] for row in rows)
    return path


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _handmade_model(path: Path, nodes, inputs, outputs, weights, metadata) -> Path:
    """A tiny ONNX model built directly (no exporter), for runtime-only behaviour."""
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    helper.set_model_props(model, metadata)
    onnx.save_model(model, path)
    return path


def _linear_model(path: Path, weight: np.ndarray, metadata: dict[str, str]) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", weight.shape[0]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", weight.shape[1]])
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    return _handmade_model(path, [node], [x], [y], [numpy_helper.from_array(weight, "w")], metadata)


@pytest.mark.parametrize("source", ["csv_header", "csv_plain", "npy_rows", "npy_images"])
def test_predictions_match_torch(classifier, images, tmp_path, source):
    module, model_path = classifier
    inputs = {
        "csv_header": lambda: _write_csv(
            tmp_path / "in.csv", images, [f"px{i}" for i in range(64)]
        ),
        "csv_plain": lambda: _write_csv(tmp_path / "in.csv", images),
        "npy_rows": lambda: _save_npy(tmp_path / "in.npy", images),
        "npy_images": lambda: _save_npy(tmp_path / "in.npy", images.reshape(-1, 1, 8, 8)),
    }
    input_path = inputs[source]()
    report = predict_file(model_path, input_path, tmp_path / "out.csv", batch_size=10)
    header, rows = _read_csv(tmp_path / "out.csv")
    assert header == ["prediction", "p_cat", "p_dog", "p_bird"]
    assert (report.rows, report.sample_shape, report.had_header) == (
        23,
        (1, 8, 8),
        source == "csv_header",
    )
    probabilities = np.array([[float(v) for v in row[1:]] for row in rows])
    expected = _torch_probabilities(module, images)
    assert np.abs(probabilities - expected).max() <= 1e-5
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
    assert [row[0] for row in rows] == [CLASSES[i] for i in expected.argmax(axis=1)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([input_path.name, "out.csv"])


def _save_npy(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def test_npy_output_holds_raw_logits(classifier, images, tmp_path):
    module, model_path = classifier
    predict_file(model_path, _save_npy(tmp_path / "in.npy", images), tmp_path / "out.npy")
    with torch.no_grad():
        expected = module(torch.from_numpy(images).reshape(-1, 1, 8, 8)).numpy()
    assert np.abs(np.load(tmp_path / "out.npy") - expected).max() <= 1e-5


def test_inputs_that_do_not_fit_are_refused(classifier, images, tmp_path):
    _, model_path = classifier
    narrow = _write_csv(tmp_path / "narrow.csv", images[:, :63])
    with pytest.raises(ExportError, match="63 values") as caught:
        predict_file(model_path, narrow, tmp_path / "out.csv")
    assert caught.value.codes == ["DLS504"]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(ExportError, match=r"bad.csv:3: cell 'x'"):
        predict_file(model_path, bad, tmp_path / "out.csv")
    with pytest.raises(ExportError, match=".csv or .npy"):
        predict_file(model_path, tmp_path / "in.txt", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_an_output_naming_the_input_or_the_model_is_refused(classifier, images, tmp_path):
    """-o the input file wrote the predictions over the user's features."""
    _, model_path = classifier
    input_path = _write_csv(tmp_path / "in.csv", images[:4].reshape(4, -1))
    before = input_path.read_bytes()
    (tmp_path / "link.csv").symlink_to(input_path)
    for output, role in ((input_path, "input"), (tmp_path / "link.csv", "input"),
                         (model_path, "model")):
        with pytest.raises(ExportError, match=f" is the {role} file; writing the "
                                              "predictions there would destroy it"):
            predict_file(model_path, input_path, output)
    assert input_path.read_bytes() == before


def test_external_data_is_refused(classifier, tmp_path):
    _, model_path = classifier
    model = onnx.load(model_path)
    unsafe = tmp_path / "unsafe.onnx"
    onnx.save_model(
        model, unsafe, save_as_external_data=True, location="weights.data", size_threshold=0
    )
    assert (tmp_path / "weights.data").exists()
    for action in (lambda: open_session(unsafe), lambda: predict_file(unsafe, "x.npy", "y.csv")):
        with pytest.raises(ExportError, match="external data") as caught:
            action()
        assert caught.value.codes == ["DLS503"]


def test_unreadable_files_are_refused(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\x01 not a model")
    for action in (open_session, read_metadata):
        with pytest.raises(ExportError) as caught:
            action(garbage)
        assert caught.value.codes == ["DLS503"]
    with pytest.raises(ExportError, match="cannot read"):
        open_session(tmp_path / "missing.onnx")


def test_binary_task_uses_sigmoid(tmp_path):
    weight = np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)
    metadata = {"task": "binary", "class_names": '["no", "yes"]'}
    model = _linear_model(tmp_path / "b.onnx", weight, metadata)
    rows = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32)
    predict_file(model, _save_npy(tmp_path / "in.npy", rows), tmp_path / "out.csv")
    header, table = _read_csv(tmp_path / "out.csv")
    assert header == ["prediction", "p_no", "p_yes"]
    p_yes = 1 / (1 + np.exp(-(rows @ weight)[:, 0]))
    assert np.allclose([float(r[2]) for r in table], p_yes, atol=1e-7)
    assert [r[0] for r in table] == ["yes", "no", "no"]


@pytest.mark.parametrize("last", ["Sigmoid", None])
def test_files_without_output_space_are_read_by_their_last_op(tmp_path, last):
    """Files exported before `output_space` was recorded: a graph ending in a sigmoid (here
    through an Identity) gives probabilities, which are its own output (a second sigmoid put
    every row near 0.5); any other graph gives logits, which get the sigmoid."""
    weight = np.array([[3.0], [-2.0]], dtype=np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["z" if last else "y"])]
    if last:
        nodes += [helper.make_node(last, ["z"], ["s"]), helper.make_node("Identity", ["s"], ["y"])]
    metadata = {"task": "binary", "class_names": '["no", "yes"]'}
    model = _handmade_model(tmp_path / "old.onnx", nodes, [x], [y],
                            [numpy_helper.from_array(weight, "w")], metadata)
    rows = np.array([[1, 0], [0, 1], [0.5, 0.5]], dtype=np.float32)
    predict_file(model, _save_npy(tmp_path / "in.npy", rows), tmp_path / "out.csv")
    p_yes = 1 / (1 + np.exp(-(rows @ weight)[:, 0]))  # the probability the model means
    _, table = _read_csv(tmp_path / "out.csv")
    np.testing.assert_allclose([float(r[2]) for r in table], p_yes, rtol=1e-6)
    assert [r[0] for r in table] == ["yes", "no", "yes"]


def test_regression_columns(tmp_path):
    two = _linear_model(
        tmp_path / "r2.onnx", np.eye(3, 2, dtype=np.float32), {"task": "regression"}
    )
    one = _linear_model(tmp_path / "r1.onnx", np.ones((3, 1), dtype=np.float32), {})
    rows = _write_csv(tmp_path / "in.csv", np.array([[1.5, 2, 3], [4, 5, 6]]))
    report = predict_file(two, rows, tmp_path / "two.csv")
    assert _read_csv(tmp_path / "two.csv") == (["y0", "y1"], [["1.5", "2"], ["4", "5"]])
    assert report.columns == ("y0", "y1")
    predict_file(one, rows, tmp_path / "one.csv")
    assert _read_csv(tmp_path / "one.csv") == (["prediction"], [["6.5"], ["15"]])


def test_token_ids_fill_a_dynamic_length(tmp_path):
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"])
    out = helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["batch", 2])
    table = np.arange(10, dtype=np.float32).reshape(5, 2)
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["vectors"]),
        helper.make_node("ReduceMean", ["vectors", "axes"], ["mean"], keepdims=0),
    ]
    weights = [
        numpy_helper.from_array(table, "table"),
        numpy_helper.from_array(np.array([1]), "axes"),
    ]
    model = _handmade_model(tmp_path / "t.onnx", nodes, [ids], [out], weights, {})
    tokens = np.array([[0, 1, 2, 3], [4, 4, 4, 0]])
    report = predict_file(model, _write_csv(tmp_path / "ids.csv", tokens), tmp_path / "out.npy")
    assert report.sample_shape == (4,)
    assert np.allclose(np.load(tmp_path / "out.npy"), table[tokens].mean(axis=1))
    fractions = _write_csv(tmp_path / "f.csv", np.array([[0.5, 1, 2, 3]]))
    with pytest.raises(ExportError, match="integers"):
        predict_file(model, fractions, tmp_path / "out.npy")

"""Prediction outputs: written a chunk at a time into a temp file that replaces the output only
when complete; an output that is a folder or another non-regular file is refused first."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, save_model
from typer.testing import CliRunner

from dlspec.backends.onnx_runtime import predict_file
from dlspec.cli import app
from dlspec.errors import ExportError


@pytest.fixture(scope="module")
def two_outputs(tmp_path_factory) -> Path:
    """x (batch, 3) -> double = 2x (float32) and shape-preserving neg = -x."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    double = helper.make_tensor_value_info("double", TensorProto.FLOAT, ["batch", 3])
    neg = helper.make_tensor_value_info("neg", TensorProto.FLOAT, ["batch", 3])
    nodes = [helper.make_node("Add", ["x", "x"], ["double"]), helper.make_node("Neg", ["x"],
                                                                               ["neg"])]
    graph = helper.make_graph(nodes, "g", [x], [double, neg])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    path = tmp_path_factory.mktemp("model") / "two.onnx"
    save_model(model, path)
    return path


@pytest.fixture()
def rows(tmp_path) -> np.ndarray:
    values = np.arange(3 * 2503, dtype=np.float32).reshape(2503, 3) / 7
    np.save(tmp_path / "rows.npy", values)
    return values


def test_raw_outputs_written_in_chunks_equal_the_whole(two_outputs, rows, tmp_path):
    report = predict_file(two_outputs, tmp_path / "rows.npy", tmp_path / "out.npz",
                          batch_size=1000)
    with np.load(tmp_path / "out.npz") as archive:
        assert sorted(archive.files) == ["double", "neg"]
        np.testing.assert_array_equal(archive["double"], 2 * rows)
        np.testing.assert_array_equal(archive["neg"], -rows)
    assert report.columns == ("double", "neg") and report.rows == 2503
    predict_file(two_outputs, tmp_path / "rows.npy", tmp_path / "out.csv", batch_size=1000)
    table = np.loadtxt(tmp_path / "out.csv", delimiter=",", skiprows=1, dtype=np.float32)
    np.testing.assert_array_equal(table, np.concatenate([2 * rows, -rows], axis=1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.npz", "rows.npy"]


def test_an_output_that_is_a_folder_or_a_device_is_refused(two_outputs, rows, tmp_path):
    for target, words in [(tmp_path, "is a folder; give a file name"),
                          (Path("/dev/null"), "exists and is not a regular file")]:
        with pytest.raises(ExportError, match=words) as caught:
            predict_file(two_outputs, tmp_path / "rows.npy", target)
        assert caught.value.codes == ["DLS504"]
    result = CliRunner().invoke(app, ["predict", str(two_outputs), "-i",
                                      str(tmp_path / "rows.npy"), "-o", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"error DLS504: -o {tmp_path} is a folder" in result.output
    assert Path("/dev/null").is_char_device()


def test_a_failure_midway_leaves_no_output(two_outputs, tmp_path):
    """The bad value is in the third chunk: the first two were written to the temp file,
    which goes; a previous output stays as it was."""
    values = np.ones((30, 3), dtype=np.float64)
    values[25, 2] = 1e300
    np.save(tmp_path / "rows.npy", values)
    (tmp_path / "out.npz").write_bytes(b"previous")
    with pytest.raises(ExportError, match=r"rows.npy\[25, 2\]: 1e\+300 overflows float32"):
        predict_file(two_outputs, tmp_path / "rows.npy", tmp_path / "out.npz", batch_size=10)
    assert (tmp_path / "out.npz").read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["out.npz", "rows.npy"]


def test_cells_are_written_as_cell_text_writes_them():
    """The array-at-a-time formatting gives the text of `cell_text`, cell by cell."""
    import csv
    import io

    from dlspec.backends.onnx_tables import cell_text
    from dlspec.backends.predict_sinks import text_rows

    cases = [list(np.array([[0.1, 1 / 3], [1e-300, 2.5]])),
             list(np.array([[0.1, 1 / 3]], dtype=np.float32)),
             list(np.array([[0.1]], dtype=np.float16)), list(np.array([[1, 2**40]])),
             list(np.array([[True, False]])), [["cat", 0.1, 1 / 3]],
             [["x", np.float32(0.1), np.int64(3), np.bool_(True), np.float64(0.2)]]]
    for rows in cases:
        fast, slow = io.StringIO(), io.StringIO()
        csv.writer(fast).writerows(text_rows(rows))
        csv.writer(slow).writerows([cell_text(value) for value in row] for row in rows)
        assert fast.getvalue() == slow.getvalue()
    assert text_rows(cases[1]) == [["0.100000001", "0.333333343"]]


def test_an_output_that_cannot_be_written_is_a_located_error(two_outputs, rows, tmp_path,
                                                            monkeypatch):
    with pytest.raises(ExportError, match=r"cannot write .*rows.npy/out.csv") as caught:
        predict_file(two_outputs, tmp_path / "rows.npy", tmp_path / "rows.npy" / "out.csv")
    assert caught.value.codes == ["DLS504"]
    from dlspec.backends import predict_sinks

    def full(self, outputs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(predict_sinks.NpySink, "write", full)
    with pytest.raises(ExportError, match="cannot write .*out.npz: No space left on device"):
        predict_file(two_outputs, tmp_path / "rows.npy", tmp_path / "out.npz")
    assert sorted(os.listdir(tmp_path)) == ["rows.npy"]

"""Prediction inputs: streamed in chunks (memory flat in the number of rows), refused cleanly
when empty, not regular files, too long a line, or a .npy header that claims more than the file
holds."""

from __future__ import annotations

import os
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, save_model
from typer.testing import CliRunner

from dlspec.backends import predict_sources
from dlspec.backends.onnx_runtime import predict_file
from dlspec.backends.predict_sources import open_samples
from dlspec.cli import app
from dlspec.errors import ExportError


@pytest.fixture(scope="module")
def double(tmp_path_factory) -> Path:
    """y = 2 x on rows of 4 floats (batch dim dynamic)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    path = tmp_path_factory.mktemp("model") / "double.onnx"
    save_model(model, path)
    return path


def _refused(action, *parts: str) -> str:
    with pytest.raises(ExportError) as caught:
        action()
    assert caught.value.codes == ["DLS504"]
    for part in parts:
        assert part in str(caught.value)
    return str(caught.value)


def _npy_with_header(path: Path, shape: tuple[int, ...], data: bytes = b"\0" * 64) -> Path:
    """A .npy file whose header claims `shape` of float64, followed by `data`."""
    header = repr({"descr": "<f8", "fortran_order": False, "shape": shape}).encode()
    header += b" " * (117 - len(header)) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data)
    return path


def test_a_header_claiming_more_than_the_file_holds_is_refused_unallocated(double, tmp_path):
    huge = _npy_with_header(tmp_path / "huge.npy", (100_000_000_000, 64))
    _refused(lambda: predict_file(double, huge, tmp_path / "out.csv"),
             "header claims shape (100000000000, 64) of float64 (51.2 TB), but the file "
             "holds 64 bytes of data")
    assert not (tmp_path / "out.csv").exists()


def test_empty_inputs_are_refused_clearly(double, tmp_path):
    np.save(tmp_path / "empty.npy", np.zeros((0, 4), dtype=np.float32))
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "blank.csv").write_text("\n \n")
    (tmp_path / "header.csv").write_text("a,b,c,d\n")
    out = tmp_path / "out.csv"
    _refused(lambda: predict_file(double, tmp_path / "empty.npy", out),
             "empty.npy is empty: its array has shape (0, 4), no rows")
    for name in ("empty.csv", "blank.csv"):
        _refused(lambda n=name: predict_file(double, tmp_path / n, out), f"{name} is empty")
    _refused(lambda: predict_file(double, tmp_path / "header.csv", out),
             "header.csv has a header row but no data rows")
    result = CliRunner().invoke(app, ["predict", str(double), "-i", str(tmp_path / "empty.npy"),
                                      "-o", str(out)])
    assert result.exit_code == 1
    assert "error DLS504" in result.output and "Aborted" not in result.output
    assert not out.exists()


def test_inputs_that_are_not_regular_files_are_refused_unread(double, tmp_path):
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    _refused(lambda: predict_file(double, zero, tmp_path / "o.csv"),
             "zero.csv is a character device; the input must be a regular file")
    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    unblock = threading.Timer(5.0, lambda: open(fifo, "wb").close())  # if opened anyway
    unblock.start()
    try:
        _refused(lambda: predict_file(double, fifo, tmp_path / "o.csv"), "is a FIFO")
    finally:
        unblock.cancel()
    (tmp_path / "linked.csv").symlink_to(tmp_path / "rows.csv")
    (tmp_path / "rows.csv").write_text("1,2,3,4\n")
    assert predict_file(double, tmp_path / "linked.csv", tmp_path / "o.csv").rows == 1


def test_a_line_longer_than_the_cap_is_refused(double, tmp_path, monkeypatch):
    monkeypatch.setattr(predict_sources, "MAX_LINE_CHARS", 100)
    rows = tmp_path / "rows.csv"
    rows.write_text("1,2,3,4\n" + ",".join(["1"] * 200) + "\n")
    _refused(lambda: predict_file(double, rows, tmp_path / "o.csv"),
             "rows.csv:2: a line longer than 100 characters")


def test_a_sample_larger_than_the_memory_available_is_refused(double, tmp_path, monkeypatch):
    np.save(tmp_path / "wide.npy", np.zeros((2, 4096), dtype=np.float32))
    monkeypatch.setattr(predict_sources, "available_memory", lambda: 64 * 1024)
    _refused(lambda: predict_file(double, tmp_path / "wide.npy", tmp_path / "o.csv"),
             "one sample holds 4,096 values (32.8 kB as float64), more than this machine "
             "can hold (65.5 kB of memory available)")


@pytest.mark.parametrize(("fmt", "limit"), [("csv", 1_000_000), ("npy", 150_000)])
def test_prediction_streams_in_chunks_with_flat_memory(double, tmp_path, fmt, limit):
    """5,000 rows read, run and written 250 at a time: the peak of Python allocations stays
    near a few chunks' size (CSV in and out: 0.45 MB; .npy in and out: 0.05 MB), where reading
    the whole file first took 2.5 MB and 0.25 MB."""
    values = np.random.default_rng(0).integers(0, 17, size=(5_000, 4)).astype(np.float32)
    source = tmp_path / f"rows.{fmt}"
    if fmt == "csv":
        np.savetxt(source, values, fmt="%d", delimiter=",", header="a,b,c,d", comments="")
    else:
        np.save(source, values)
    predict_file(double, source, tmp_path / f"warm.{fmt}")  # imports happen outside the trace
    tracemalloc.start()
    try:
        report = predict_file(double, source, tmp_path / f"out.{fmt}", batch_size=250)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.rows == 5_000 and report.had_header == (fmt == "csv")
    out = (np.loadtxt(tmp_path / "out.csv", delimiter=",", skiprows=1) if fmt == "csv"
           else np.load(tmp_path / "out.npy"))
    np.testing.assert_array_equal(out, 2 * values)
    assert peak < limit, f"peak {peak:,} bytes"


def test_chunks_keep_rows_lines_and_order(tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n1,2\n\n3,4\n5,6\n")
    with open_samples(rows) as source:
        chunks = list(source.chunks(2))
        assert source.had_header
        assert [chunk.values.tolist() for chunk in chunks] == [[[1, 2], [3, 4]], [[5, 6]]]
        assert [chunk.lines for chunk in chunks] == [(2, 4), (5,)]
        assert source.where(chunks[1], (0, 1)) == f"{rows}:5: column 2 ('b')"
    np.save(tmp_path / "rows.npy", np.arange(12).reshape(6, 2))
    with open_samples(tmp_path / "rows.npy") as source:
        chunks = list(source.chunks(4))
        assert [len(chunk.values) for chunk in chunks] == [4, 2]
        assert chunks[1].values.tolist() == [[8, 9], [10, 11]]
        assert source.where(chunks[1], (1, 0)) == f"{tmp_path / 'rows.npy'}[5, 0]"

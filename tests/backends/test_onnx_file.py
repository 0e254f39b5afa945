"""What a model file must be before ONNX Runtime sees it (predict, serve, bench, generate):
a regular file with one link, no symlink out of its folder, a valid model, weights embedded
everywhere (training_info included)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from dlspec.backends import onnx_file
from dlspec.backends.onnx_runtime import open_session, predict_file, read_metadata
from dlspec.errors import ExportError


def _model(with_training_info: bool = False) -> onnx.ModelProto:
    """y = x @ w, w a (3, 2) initializer; optionally a training_info graph with its own
    initializer."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])
    weight = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(3, 2), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y],
                              initializer=[weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    if with_training_info:
        step = numpy_helper.from_array(np.zeros(1024, dtype=np.float32), "step")
        info = model.training_info.add()
        info.algorithm.CopyFrom(helper.make_graph([], "algorithm", [], [], initializer=[step]))
    return model


def _save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save_model(model, path)
    return path


def _refused(action, code: str = "DLS503") -> str:
    with pytest.raises(ExportError) as caught:
        action()
    assert caught.value.codes == [code]
    return str(caught.value)


def test_a_plain_model_opens_and_predicts(tmp_path):
    path = _save(_model(), tmp_path / "m.onnx")
    session = open_session(path)
    out = session.run(None, {"x": np.ones((1, 3), dtype=np.float32)})[0]
    assert out.tolist() == [[6.0, 9.0]]


def _external(tensor: onnx.TensorProto, location: str) -> None:
    """Move `tensor`'s data to external data at `location` (24 bytes from offset 0)."""
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in {"location": location, "offset": "0", "length": "24"}.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value


def test_external_data_inside_training_info_is_refused(tmp_path):
    model = _model(with_training_info=True)
    _external(model.training_info[0].algorithm.initializer[0], "data.bin")
    path = _save(model, tmp_path / "train.onnx")
    (tmp_path / "data.bin").write_bytes(np.zeros(1024, dtype=np.float32).tobytes())
    for action in (lambda: open_session(path), lambda: read_metadata(path)):
        message = _refused(action)
        assert "tensor 'step' in external data (location 'data.bin')" in message


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink", "hardlink"])
def test_external_data_outside_the_folder_is_refused_naming_why(tmp_path, kind):
    """ORT follows every one of these; the message says where the data would come from."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.bin"
    secret.write_bytes(np.arange(6, dtype=np.float32).tobytes())
    folder = tmp_path / "models"
    folder.mkdir()
    location = {"absolute": str(secret), "dotdot": "../outside/secret.bin",
                "symlink": "link.bin", "hardlink": "hard.bin"}[kind]
    if kind == "symlink":
        (folder / "link.bin").symlink_to(secret)
    if kind == "hardlink":
        os.link(secret, folder / "hard.bin")
    model = _model()
    _external(model.graph.initializer[0], location)
    path = _save(model, folder / "m.onnx")
    message = _refused(lambda: open_session(path))
    why = {"absolute": "is an absolute path", "dotdot": "leaves the model's folder",
           "symlink": f"is a symlink to {secret}", "hardlink": "has 2 hard links"}[kind]
    assert f"tensor 'w' in external data (location '{location}' {why})" in message


def test_a_hardlinked_model_file_is_refused(tmp_path):
    path = _save(_model(), tmp_path / "m.onnx")
    os.link(path, tmp_path / "other-name.onnx")
    message = _refused(lambda: open_session(path))
    assert "has 2 hard links" in message
    _refused(lambda: read_metadata(path))


def test_a_symlinked_model_is_followed_only_inside_its_folder(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real = _save(_model(), elsewhere / "m.onnx")
    folder = tmp_path / "models"
    (folder / "v1").mkdir(parents=True)
    (folder / "out.onnx").symlink_to(real)
    message = _refused(lambda: open_session(folder / "out.onnx"))
    assert f"is a symlink to {real}, outside the model's folder" in message
    _save(_model(), folder / "v1" / "m.onnx")
    (folder / "current.onnx").symlink_to(Path("v1") / "m.onnx")
    assert open_session(folder / "current.onnx").get_inputs()[0].name == "x"


def test_a_model_that_is_not_a_regular_file_is_refused_without_reading(tmp_path):
    fifo = tmp_path / "m.onnx"
    os.mkfifo(fifo)
    # a writer that ends the wait of a reader that opens the FIFO anyway (the old behaviour)
    unblock = threading.Timer(5.0, lambda: open(fifo, "wb").close())
    unblock.start()
    try:
        message = _refused(lambda: open_session(fifo))
    finally:
        unblock.cancel()
    assert "is a FIFO (named pipe); the model must be a regular file" in message
    assert "is a folder" in _refused(lambda: read_metadata(tmp_path))
    assert "is a character device" in _refused(lambda: open_session("/dev/null"))


def test_a_model_larger_than_the_cap_is_refused(tmp_path, monkeypatch):
    path = _save(_model(), tmp_path / "m.onnx")
    monkeypatch.setattr(onnx_file, "MAX_MODEL_BYTES", 64)
    message = _refused(lambda: open_session(path))
    assert f"{path} is {path.stat().st_size:,} bytes; an ONNX file holds at most 64" in message


def test_a_file_that_is_not_a_valid_model_is_refused(tmp_path):
    model = _model()
    model.graph.node[0].input[1] = "undefined"  # parses; the checker finds the dangling input
    path = _save(model, tmp_path / "bad.onnx")
    message = _refused(lambda: open_session(path))
    assert f"{path} is not a valid ONNX model" in message and "undefined" in message
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    assert "holds no graph" in _refused(lambda: open_session(empty))
    assert "holds no graph" in _refused(lambda: predict_file(empty, "x.csv", "y.csv"))

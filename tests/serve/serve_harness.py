"""Small ONNX models with dlspec's metadata (built with onnx.helper: no torch), and the real
server (uvicorn) running in a thread on a free loopback port."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dlspec.serve.app import create_app
from dlspec.serve.config import ServeConfig
from dlspec.serve.server import bind, uvicorn_config

CLASSES = [f"digit{i}" for i in range(10)]


def _save(path: Path, nodes, inputs, outputs, weights, metadata) -> Path:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def classifier(path: Path, *, precision: str | None = None) -> Path:
    """pixels (N, 64) -> logits (N, 10), a linear classifier with dlspec's metadata."""
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.normal(size=(64, 10)).astype(np.float32) * 0.3, "w")
    bias = numpy_helper.from_array(rng.normal(size=(10,)).astype(np.float32), "b")
    nodes = [helper.make_node("MatMul", ["pixels", "w"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["logits"])]
    metadata = {"spec_name": "linear-digits", "spec_sha256": "ab" * 32,
                "task": "classification", "class_names": json.dumps(CLASSES),
                "scored_output": json.dumps("logits"), "output_space": "logits",
                "preprocessing": "none"}
    if precision is not None:
        metadata["precision"] = precision
    return _save(path, nodes,
                 [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 64])],
                 [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
                 [weight, bias], metadata)


def two_inputs(path: Path) -> Path:
    """image (N, 2, 3) and shift (N, 1) -> out (N, 6) = flatten(image) + shift (regression)."""
    shape = numpy_helper.from_array(np.array([-1, 6], dtype=np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["image", "shape"], ["flat"]),
             helper.make_node("Add", ["flat", "shift"], ["out"])]
    return _save(path, nodes,
                 [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 2, 3]),
                  helper.make_tensor_value_info("shift", TensorProto.FLOAT, ["N", 1])],
                 [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 6])],
                 [shape], {"spec_name": "two-inputs", "task": "regression"})


@contextmanager
def running(config: ServeConfig) -> Iterator[str]:
    """The server of `config` (its port ignored: a free one) in a thread; yields its URL."""
    import uvicorn

    sock = bind(config.host, 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(config, create_app(config), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()

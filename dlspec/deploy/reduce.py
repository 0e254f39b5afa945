"""Reduce a verified fp32 ONNX model to fp16 or int8 (onnxruntime's own tools).

- fp16: `onnxruntime.transformers.float16.convert_float_to_float16`; with `float32_io` the
  graph inputs and outputs stay float32 (Cast nodes inside the graph). The converter appends
  those casts after the nodes that read them, so the graph is sorted again (the ONNX checker
  requires topological order).
- int8 dynamic: `onnxruntime.quantization.quantize_dynamic` (int8 weights; activations
  quantized at run time).
- int8 static: `quantize_static` in QDQ format, activation ranges calibrated (MinMax) on
  samples the caller gives (training samples, as the file takes them: raw features).

Everything here works on ModelProtos and a private temporary folder; nothing is written where
the user looks. A tool that fails is DLS510, naming the precision and the tool's message.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlspec.backends.onnx_check import first_line as _first_line
from dlspec.errors import Diagnostic, ExportError

PRECISIONS = ("fp32", "fp16", "int8")
QUANTIZATIONS = ("dynamic", "static")
CALIBRATION_BATCH = 32


def reduce_model(model: Any, precision: str, *, quantization: str = "dynamic",
                 calibration: Sequence[Mapping[str, np.ndarray]] = (),
                 float32_io: bool = True) -> Any:
    """A new ModelProto of `model` at `precision` (fp16 or int8), its metadata kept.
    `calibration`: feed dicts (input name -> batch) for int8 static."""
    import onnx

    if precision == "fp16":
        reduced = _float16(model, float32_io)
    elif precision == "int8" and quantization == "dynamic":
        reduced = _quantized(model, "dynamic", ())
    elif precision == "int8" and quantization == "static":
        if not calibration:
            raise reduce_error("int8 static quantization needs calibration samples",
                               hint="the training split is empty; use "
                                    "export.quantization: dynamic")
        reduced = _quantized(model, "static", calibration)
    else:
        raise ValueError(f"no reduction to {precision} ({quantization})")
    kept = {prop.key: prop.value for prop in model.metadata_props}
    present = {prop.key for prop in reduced.metadata_props}
    for key, value in kept.items():
        if key not in present:
            reduced.metadata_props.add(key=key, value=value)
    try:
        onnx.checker.check_model(reduced, full_check=True)
    except Exception as exc:
        raise reduce_error(f"the {precision} model is not a valid ONNX model: "
                           f"{_first_line(exc)}") from exc
    return reduced


def _float16(model: Any, float32_io: bool) -> Any:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    try:
        with _quiet():
            reduced = convert_float_to_float16(copy, keep_io_types=float32_io,
                                               disable_shape_infer=False)
    except Exception as exc:
        raise reduce_error(f"the float16 conversion failed: {_first_line(exc)}") from exc
    sort_graph(reduced.graph)
    return reduced


def _quantized(model: Any, kind: str, calibration: Sequence[Mapping[str, np.ndarray]]) -> Any:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return dict(next(self.feeds, None) or {}) or None

    with tempfile.TemporaryDirectory(prefix="dlspec-quantize-") as folder:
        source, target = Path(folder) / "fp32.onnx", Path(folder) / "int8.onnx"
        onnx.save_model(model, source)
        try:
            with _quiet():
                if kind == "dynamic":
                    quantize_dynamic(source, target, weight_type=QuantType.QInt8)
                else:
                    quantize_static(source, target, Reader(), quant_format=QuantFormat.QDQ,
                                    activation_type=QuantType.QInt8,
                                    weight_type=QuantType.QInt8)
        except Exception as exc:
            raise reduce_error(f"int8 {kind} quantization failed: {_first_line(exc)}") from exc
        return onnx.load_model(target, load_external_data=False)


def calibration_feeds(inputs: Mapping[str, np.ndarray], samples: int,
                      batch: int = CALIBRATION_BATCH) -> list[dict[str, np.ndarray]]:
    """The first `samples` rows of every input (name -> array of rows, as the file takes
    them), cut in batches of `batch`."""
    count = min(samples, *(len(rows) for rows in inputs.values())) if inputs else 0
    return [{name: np.ascontiguousarray(rows[start:min(start + batch, count)])
             for name, rows in inputs.items()} for start in range(0, count, batch)]


def sort_graph(graph: Any) -> None:
    """Put the nodes of `graph` in topological order, in place (stable: a node keeps its
    place among those ready). Names a node reads inside its subgraphs count as its inputs."""
    nodes = list(graph.node)
    produced = {name: i for i, node in enumerate(nodes) for name in node.output if name}
    needs = [{produced[name] for name in _reads(node) if name in produced} - {i}
             for i, node in enumerate(nodes)]
    done: set[int] = set()
    order: list[int] = []
    while len(order) < len(nodes):
        ready = [i for i in range(len(nodes)) if i not in done and needs[i] <= done]
        if not ready:  # a cycle: leave the graph as it was, the checker will say so
            return
        order.extend(ready)
        done.update(ready)
    sorted_nodes = [nodes[i] for i in order]
    del graph.node[:]
    graph.node.extend(sorted_nodes)


def _reads(node: Any) -> Iterator[str]:
    yield from node.input
    for attribute in node.attribute:
        graphs = list(attribute.graphs) + ([attribute.g] if attribute.HasField("g") else [])
        for sub in graphs:
            for inner in sub.node:
                yield from _reads(inner)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hold back the quantization tools' advice on the root logger and their warnings."""
    import warnings

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def reduce_error(message: str, hint: str | None = None) -> ExportError:
    """DLS510: the reduced-precision file cannot be made or measured."""
    return ExportError(Diagnostic("DLS510", message, hint=hint))


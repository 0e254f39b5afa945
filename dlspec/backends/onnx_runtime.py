"""Run exported ONNX files safely with ONNX Runtime, and predict on CSV or .npy files.

`open_session` parses the file's bytes with onnx first and refuses (DLS503) any tensor stored as
external data: ONNX Runtime follows external-data links (a hardlink to a file outside the model
folder loaded fine in the measured version), so a user-supplied file may only carry embedded
weights. The session is then built from the very bytes that were checked, so the file cannot
change between the check and the load.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlspec.backends.onnx_tables import (
    LEGACY_SPACE,
    fit_to_input,
    prediction_table,
    read_samples,
    write_atomically,
    write_csv,
)
from dlspec.errors import Diagnostic, ExportError


@dataclass(frozen=True)
class PredictReport:
    """What `predict_file` read and wrote."""

    model_path: str
    input_path: str
    output_path: str
    rows: int
    sample_shape: tuple[int, ...]
    had_header: bool
    task: str
    columns: tuple[str, ...]


def open_session(path: str | os.PathLike[str], *, intra_op_threads: int | None = None) -> Any:
    """An `onnxruntime.InferenceSession` (CPU) for a file whose weights are all embedded."""
    import onnxruntime

    data = _read_bytes(path)
    refuse_external_data(_parse_model(data, path), path)
    options = onnxruntime.SessionOptions()
    if intra_op_threads is not None:
        options.intra_op_num_threads = intra_op_threads
    try:
        return onnxruntime.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise _unsafe(f"ONNX Runtime cannot load {path}: {_first_line(exc)}") from exc


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The model's `metadata_props` as a dict (external data is never read)."""
    import onnx

    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except Exception as exc:
        raise _unsafe(f"{path} is not a readable ONNX file: {_first_line(exc)}") from exc
    return {prop.key: prop.value for prop in model.metadata_props}


def refuse_external_data(model: Any, path: str | os.PathLike[str]) -> None:
    """DLS503 if any tensor of `model` (graphs, subgraphs, functions) lives in external data."""
    import onnx

    for tensor in _all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data) > 0:
            raise _unsafe(
                f"{path} keeps tensor '{tensor.name}' in external data, which is refused",
                hint="re-save the model with its weights embedded (onnx.save_model without "
                "save_as_external_data); files under 2 GB need no external data",
            )


def predict_file(
    model_path: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    batch_size: int = 1024,
    intra_op_threads: int | None = None,
) -> PredictReport:
    """Run a single-input model on every row of a .csv or .npy file and write the predictions.

    CSV input: numeric cells only, header row detected (a first row with any non-numeric
    cell). Rows are reshaped to the model's per-sample input shape (64 columns -> (1, 8, 8)).
    Output: `.npy` (one output) or `.npz` (all outputs, by name) hold raw outputs; any other
    suffix gets a CSV: for classification (metadata `task` classification/binary) the columns
    `prediction` (class name) and `p_<class>` (softmax, or sigmoid for one binary logit); for
    other tasks `prediction` for one value per sample, else `y0..` (or `<output>_<i>` when the
    model has several outputs).
    """
    if batch_size < 1:
        raise _misfit(f"batch_size must be at least 1, got {batch_size}")
    session = open_session(model_path, intra_op_threads=intra_op_threads)
    model_input = _single_input(session, model_path)
    raw, had_header = read_samples(input_path)
    samples = fit_to_input(raw, model_input.shape[1:], model_input.type, input_path)
    names = [output.name for output in session.get_outputs()]
    outputs = _run_in_batches(session, model_input, samples, batch_size, len(names))
    metadata = dict(session.get_modelmeta().custom_metadata_map)
    if "output_space" not in metadata:  # a file exported before the space was recorded
        metadata["output_space"] = legacy_output_space(model_path, names, metadata)
    task = metadata.get("task", "")
    columns = _write_outputs(Path(output_path), names, outputs, metadata)
    return PredictReport(
        model_path=str(model_path),
        input_path=str(input_path),
        output_path=str(output_path),
        rows=len(samples),
        sample_shape=tuple(samples.shape[1:]),
        had_header=had_header,
        task=task,
        columns=tuple(columns),
    )


# ONNX ops whose output is in a known space, and ops that keep their input's values.
SPACE_OF_OP = {"Sigmoid": "probabilities", "HardSigmoid": "probabilities",
               "Softmax": "probabilities", "LogSoftmax": "log_probabilities"}
SAME_VALUES = ("Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Dropout")


def legacy_output_space(
    model_path: str | os.PathLike[str], names: Sequence[str], metadata: Mapping[str, str]
) -> str:
    """The space of the scored output of a file that does not record it: probabilities or
    log-probabilities when the graph computes it with a sigmoid, softmax or log_softmax
    (through reshapes), else LEGACY_SPACE (how such files used to be read)."""
    import onnx

    try:
        scored = json.loads(metadata.get("scored_output", "null")) or names[0]
        graph = onnx.load(os.fspath(model_path), load_external_data=False).graph
    except Exception:  # unreadable metadata is reported by the prediction table
        return LEGACY_SPACE
    if not isinstance(scored, str):
        return LEGACY_SPACE
    producers = {output: node for node in graph.node for output in node.output}
    node = producers.get(scored)
    while node is not None and node.op_type in SAME_VALUES and node.input:
        node = producers.get(node.input[0])
    return SPACE_OF_OP.get(node.op_type, LEGACY_SPACE) if node is not None else LEGACY_SPACE


def _single_input(session: Any, model_path: str | os.PathLike[str]) -> Any:
    """The model's only input; predicting from one table needs exactly one."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = [item.name for item in inputs]
        raise _misfit(
            f"{model_path} has {len(inputs)} inputs {names}; prediction from a file needs one",
            hint="run the model through onnxruntime directly for multi-input models",
        )
    return inputs[0]


def _run_in_batches(
    session: Any, model_input: Any, samples: np.ndarray, batch_size: int, n_outputs: int
) -> list[np.ndarray]:
    """All outputs for all samples, run `batch_size` rows at a time (padded to a fixed batch)."""
    fixed_batch = model_input.shape[0] if isinstance(model_input.shape[0], int) else None
    step = fixed_batch or batch_size
    pieces: list[list[np.ndarray]] = [[] for _ in range(n_outputs)]
    for chunk in _chunks(samples, step):
        rows = len(chunk)
        if fixed_batch and rows < fixed_batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], fixed_batch - rows, axis=0)])
        try:
            results = session.run(None, {model_input.name: chunk})
        except Exception as exc:
            raise _misfit(f"ONNX Runtime failed on the input: {_first_line(exc)}") from exc
        for store, result in zip(pieces, results, strict=True):
            store.append(result[:rows])
    return [np.concatenate(store) for store in pieces]


def _chunks(samples: np.ndarray, step: int) -> Iterator[np.ndarray]:
    """Consecutive slices of `step` rows (the last may be shorter)."""
    for start in range(0, len(samples), step):
        yield samples[start : start + step]


def _write_outputs(
    path: Path, names: Sequence[str], outputs: Sequence[np.ndarray], metadata: Mapping[str, str]
) -> list[str]:
    """Write raw arrays (.npy/.npz) or a prediction CSV; returns the columns/arrays written."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if len(outputs) != 1:
            raise _misfit(
                f"the model has {len(outputs)} outputs; .npy holds one", hint="write .npz instead"
            )
        write_atomically(path, lambda handle: np.save(handle, outputs[0]))
        return [names[0]]
    if suffix == ".npz":
        arrays = dict(zip(names, outputs, strict=True))
        write_atomically(path, lambda handle: np.savez(handle, **arrays))
        return list(names)
    columns, table = prediction_table(names, outputs, metadata)
    write_csv(path, columns, table)
    return columns


def _all_tensors(model: Any) -> Iterator[Any]:
    """Every TensorProto in the model: initializers, constants, subgraphs and functions."""
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        for node in function.node:
            yield from _attribute_tensors(node.attribute)


def _graph_tensors(graph: Any) -> Iterator[Any]:
    """Tensors of one graph and its nested subgraphs."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        yield from _attribute_tensors(node.attribute)


def _attribute_tensors(attributes: Sequence[Any]) -> Iterator[Any]:
    """Tensors held by node attributes, including those of subgraph attributes."""
    for attribute in attributes:
        if attribute.HasField("t"):
            yield attribute.t
        yield from attribute.tensors
        sparse = list(attribute.sparse_tensors)
        if attribute.HasField("sparse_tensor"):
            sparse.append(attribute.sparse_tensor)
        for item in sparse:
            yield from (item.values, item.indices)
        graphs = list(attribute.graphs) + ([attribute.g] if attribute.HasField("g") else [])
        for graph in graphs:
            yield from _graph_tensors(graph)


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes, or DLS503 when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise _unsafe(f"cannot read {path}: {exc.strerror or exc}") from exc


def _parse_model(data: bytes, path: str | os.PathLike[str]) -> Any:
    """The ModelProto in `data` (never follows external data), or DLS503."""
    import onnx

    try:
        return onnx.load_model_from_string(data)
    except Exception as exc:
        raise _unsafe(f"{path} is not a readable ONNX file: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    """The first line of an exception message, for diagnostics."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:400] if lines else type(exc).__name__


def _unsafe(message: str, hint: str | None = None) -> ExportError:
    """A DLS503 error (unsafe or unreadable ONNX file)."""
    return ExportError(Diagnostic("DLS503", message, hint=hint))


def _misfit(message: str, hint: str | None = None) -> ExportError:
    """A DLS504 error (prediction input does not fit the model)."""
    return ExportError(Diagnostic("DLS504", message, hint=hint))

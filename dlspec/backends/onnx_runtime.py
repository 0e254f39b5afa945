"""Run exported ONNX files safely with ONNX Runtime, and predict on CSV or .npy files.

`open_session` is the one door to ONNX Runtime for a file somebody gave dlspec (predict, serve,
bench, sample, generate): dlspec/backends/onnx_file.py checks the file (a regular file with one
link, no symlink out of its folder, a valid model, no external data anywhere) and the session is
built from the very bytes that were checked, so the file cannot change between the check and the
load. `predict_file` streams: it reads, runs and writes a chunk of rows at a time, so memory
stays flat in the number of rows (benchmarks/predict_stream.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlspec.backends.onnx_file import (
    all_tensors,
    first_line,
    parse_checked_model,
    read_model_bytes,
    refuse_external_data,
)
from dlspec.backends.onnx_tables import LEGACY_SPACE, fit_to_input
from dlspec.backends.predict_sinks import check_output, open_sink
from dlspec.backends.predict_sources import Chunk, SampleSource
from dlspec.backends.predict_tables import open_table_or_samples
from dlspec.errors import Diagnostic, ExportError
from dlspec.files import atomic_path

__all__ = ["PredictReport", "all_tensors", "legacy_output_space", "open_session",
           "predict_file", "read_metadata", "refuse_external_data"]


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
    """An `onnxruntime.InferenceSession` (CPU) for a checked file whose weights are embedded."""
    return _open_checked(path, intra_op_threads)[0]


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The model's `metadata_props` as a dict, from a file that passes the same checks."""
    model = parse_checked_model(read_model_bytes(path), path)
    return {prop.key: prop.value for prop in model.metadata_props}


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
    model has several outputs). Rows are read, run and written `batch_size` at a time (fewer
    for large samples); the output appears only once every row is written.
    """
    if batch_size < 1:
        raise _misfit(f"batch_size must be at least 1, got {batch_size}")
    session, model = _open_checked(model_path, intra_op_threads)
    model_input = _single_input(session, model_path)
    names = [output.name for output in session.get_outputs()]
    output = check_output(output_path, names)
    for role, other in (("input", input_path), ("model", model_path)):
        if output.exists() and os.path.samefile(output, other):
            raise _misfit(f"-o {output_path} is the {role} file; writing the predictions "
                          "there would destroy it", hint="give another file name with -o")
    metadata = dict(session.get_modelmeta().custom_metadata_map)
    if "output_space" not in metadata:  # a file exported before the space was recorded
        metadata["output_space"] = _legacy_space(model.graph, names, metadata)
    fixed_batch = model_input.shape[0] if isinstance(model_input.shape[0], int) else None
    rows, sample_shape = 0, ()
    with open_table_or_samples(input_path, metadata) as source:  # raw table columns
        try:
            with atomic_path(output) as tmp:
                sink = open_sink(tmp, output.suffix.lower(), names, metadata)
                try:
                    for chunk in source.chunks(fixed_batch or batch_size):
                        samples = _fit(chunk, source, model_input)
                        sink.write(_run_in_batches(session, model_input, samples, fixed_batch,
                                                   len(names)))
                        rows, sample_shape = rows + len(samples), tuple(samples.shape[1:])
                    sink.finish()
                finally:
                    sink.close()
        except OSError as exc:  # a full disk, a read-only folder: nothing was written
            raise _misfit(f"cannot write {output}: {exc.strerror or exc}") from exc
    return PredictReport(
        model_path=str(model_path),
        input_path=str(input_path),
        output_path=str(output_path),
        rows=rows,
        sample_shape=sample_shape,
        had_header=source.had_header,
        task=metadata.get("task", ""),
        columns=tuple(sink.columns),
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
    try:
        graph = parse_checked_model(read_model_bytes(model_path), model_path).graph
    except ExportError:  # an unreadable file is reported where it is opened
        return LEGACY_SPACE
    return _legacy_space(graph, names, metadata)


def _legacy_space(graph: Any, names: Sequence[str], metadata: Mapping[str, str]) -> str:
    """`legacy_output_space` of a parsed graph."""
    try:
        scored = json.loads(metadata.get("scored_output", "null")) or names[0]
    except ValueError:  # unreadable metadata is reported by the prediction table
        return LEGACY_SPACE
    if not isinstance(scored, str):
        return LEGACY_SPACE
    producers = {output: node for node in graph.node for output in node.output}
    node = producers.get(scored)
    while node is not None and node.op_type in SAME_VALUES and node.input:
        node = producers.get(node.input[0])
    return SPACE_OF_OP.get(node.op_type, LEGACY_SPACE) if node is not None else LEGACY_SPACE


def _open_checked(path: str | os.PathLike[str], intra_op_threads: int | None) -> tuple[Any, Any]:
    """(session, ModelProto) of a file that passed the checks of onnx_file.py."""
    import onnxruntime

    data = read_model_bytes(path)
    model = parse_checked_model(data, path)
    options = onnxruntime.SessionOptions()
    if intra_op_threads is not None:
        options.intra_op_num_threads = intra_op_threads
    try:
        session = onnxruntime.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise _unsafe(f"ONNX Runtime cannot load {path}: {first_line(exc)}") from exc
    return session, model


def _fit(chunk: Chunk, source: SampleSource, model_input: Any) -> np.ndarray:
    """A chunk's rows fitted to the model input, problems named at their line or row."""
    return fit_to_input(chunk.values, model_input.shape[1:], model_input.type, source.path,
                        where=lambda index: source.where(chunk, index))


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
    session: Any, model_input: Any, samples: np.ndarray, fixed_batch: int | None,
    n_outputs: int,
) -> list[np.ndarray]:
    """All outputs for `samples` in one session call, or `fixed_batch` rows at a time (the last
    padded) for a model whose batch dim is fixed."""
    pieces: list[list[np.ndarray]] = [[] for _ in range(n_outputs)]
    for chunk in _chunks(samples, fixed_batch or max(len(samples), 1)):
        rows = len(chunk)
        if fixed_batch and rows < fixed_batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], fixed_batch - rows, axis=0)])
        try:
            results = session.run(None, {model_input.name: chunk})
        except Exception as exc:
            raise _misfit(f"ONNX Runtime failed on the input: {first_line(exc)}") from exc
        for store, result in zip(pieces, results, strict=True):
            store.append(result[:rows])
    return [np.concatenate(store) for store in pieces]


def _chunks(samples: np.ndarray, step: int) -> Iterator[np.ndarray]:
    """Consecutive slices of `step` rows (the last may be shorter)."""
    for start in range(0, len(samples), step):
        yield samples[start : start + step]


def _unsafe(message: str, hint: str | None = None) -> ExportError:
    """A DLS503 error (unsafe or unreadable ONNX file)."""
    return ExportError(Diagnostic("DLS503", message, hint=hint))


def _misfit(message: str, hint: str | None = None) -> ExportError:
    """A DLS504 error (prediction input does not fit the model)."""
    return ExportError(Diagnostic("DLS504", message, hint=hint))

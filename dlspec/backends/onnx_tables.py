"""Tables in and out of `predict_file`: fitting samples to a model input, turning outputs into
prediction rows (classes and probabilities), and writing results atomically. Reading the samples
is dlspec/backends/predict_sources.py; input problems are DLS504 diagnostics; unusable class
metadata is DLS503.

The scored output is read in the space its loss declared (metadata `output_space`: logits,
probabilities, log_probabilities or values; see dlspec/train/scoring/output_space.py), the way the
training metrics read it.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from dlspec.errors import Diagnostic, ExportError
from dlspec.files import atomic_path
from dlspec.train.scoring.output_space import Readout, Space, parse_space, readout

ONNX_TO_NUMPY = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}
CLASSIFICATION_TASKS = ("classification", "binary")
# Tasks whose scored output is written flat, read as they are scored: regression values, or
# per-token class probabilities (N, T * classes).
FLAT_TASKS = ("regression", "tagging", "language_model")
LEGACY_SPACE: Space = "logits"  # how files exported before `output_space` were read


def _softmax(values: np.ndarray) -> np.ndarray:
    shifted = np.exp(values - values.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


READOUTS: dict[Readout, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda x: x, "sigmoid": lambda x: np.exp(-np.logaddexp(0.0, -x)),
    "softmax": _softmax, "exp": np.exp, "clip": lambda x: np.clip(x, 0.0, 1.0),
}


def fit_to_input(
    raw: np.ndarray, sample_dims: Sequence[Any], onnx_type: str, path: str | os.PathLike[str],
    *, where: Callable[[tuple[int, ...]], str] | None = None,
) -> np.ndarray:
    """`raw` reshaped to (rows, *per-sample dims) and cast to the model input's dtype.

    An array whose per-sample shape already fits is kept; otherwise each row is flattened and
    reshaped, inferring at most one dynamic (named) dim from the row length. Every value must
    survive the cast: finite after it (a -1e308 overflows float32 to -inf), whole and in range
    for integer inputs; the first that does not is named by `where(index in raw)` (default:
    `path` and the index).
    """
    dtype = ONNX_TO_NUMPY.get(onnx_type)
    if dtype is None:
        raise _misfit(f"the model input has type {onnx_type}, which prediction does not support")
    samples = (
        raw
        if raw.ndim > 1 and _fits(raw.shape[1:], sample_dims)
        else _reshape(raw, sample_dims, path)
    )
    with np.errstate(over="ignore", invalid="ignore"):
        cast = samples.astype(dtype)
    _check_cast(raw, cast.reshape(raw.shape), where or _index_in(path))
    return cast


def _check_cast(raw: np.ndarray, cast: np.ndarray,
                where: Callable[[tuple[int, ...]], str]) -> None:
    """DLS504 at the first value of `raw` that its cast does not keep."""
    if np.issubdtype(cast.dtype, np.floating):
        bad = ~np.isfinite(cast)
    else:
        info = np.iinfo(cast.dtype)
        with np.errstate(invalid="ignore"):
            bad = (raw < info.min) | (raw > info.max) | (raw != np.round(raw))
    if not bad.any():
        return
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))
    value, name = raw[index].item(), cast.dtype.name  # a Python number, shown plainly
    if not math.isfinite(value):
        problem = f"{value!r} is not a number the model can take"
        hint = "fill missing values first"
    elif np.issubdtype(cast.dtype, np.floating):
        problem = f"{float(value)!r} overflows {name} (becomes {float(cast[index])!r})"
        hint = f"{name} holds magnitudes up to {float(np.finfo(cast.dtype).max):.3g}: scale it"
    elif value != np.round(value):
        problem = f"{float(value)!r}: the model takes integers (e.g. token ids), not fractions"
        hint = None
    else:
        problem = f"{value!r} is outside the {name} range the model takes"
        hint = None
    raise _misfit(f"{where(index)}: {problem}", hint=hint)


def _index_in(path: str | os.PathLike[str]) -> Callable[[tuple[int, ...]], str]:
    """Where a value is, by its index: `file[row, column]`."""
    return lambda index: f"{path}[{', '.join(str(i) for i in index)}]"


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write a CSV with a header row atomically; floats keep their full precision."""

    def write(handle: IO[Any]) -> None:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([cell_text(value) for value in row] for row in rows)

    write_atomically(path, write, text=True)


def write_atomically(path: Path, write: Callable[[IO[Any]], None], *, text: bool = False) -> None:
    """Write through a temp file in the same folder, then move it onto `path` in one step."""
    with atomic_path(path) as tmp, open(tmp, "w" if text else "wb",
                                        **({"newline": ""} if text else {})) as out:
        write(out)


def read_output(output: np.ndarray, space: Space, task: str) -> np.ndarray:
    """The scored output as `task` is scored on it (`output_space.readout`): label or class
    probabilities (float64), or regression values."""
    values = output.astype(np.float64) if task != "regression" else output
    return READOUTS[readout(space, task)](values)


def class_probabilities(output: np.ndarray, task: str, space: Space = "logits") -> np.ndarray:
    """(rows, classes) probabilities of a classifier's output in `space`: for one binary
    output per row, [1 - p, p]."""
    values = output.reshape(len(output), -1)
    if task == "binary" and values.shape[1] == 1:
        positive = read_output(values[:, 0], space, task)
        return np.stack([1.0 - positive, positive], axis=1)
    return read_output(values, space, task)


def output_space(metadata: Mapping[str, str]) -> Space:
    """The scored output's space (metadata `output_space`; LEGACY_SPACE without it), or
    DLS503 for a value that names none."""
    try:
        return parse_space(metadata.get("output_space"), LEGACY_SPACE)
    except ValueError as exc:
        raise _bad_metadata(f"metadata {exc}") from None


def prediction_table(
    names: Sequence[str], outputs: Sequence[np.ndarray], metadata: Mapping[str, str]
) -> tuple[list[str], list[Sequence[Any]]]:
    """Columns and per-row values: class + probabilities from the output the training targets
    scored (metadata `scored_output`; the first for files without it), read in its space
    (metadata `output_space`); a probability per label for multilabel; else the flattened
    outputs, the scored one in the targets' units."""
    task = metadata.get("task", "")
    rows = len(outputs[0])
    scored = _scored_output(names, metadata)
    if task == "multilabel" and scored is not None:
        probabilities = read_output(outputs[scored].reshape(rows, -1), output_space(metadata),
                                    task)
        labels = _class_names(metadata, probabilities.shape[1])
        return [f"p_{name}" for name in labels], probabilities.tolist()
    if scored is not None and task in FLAT_TASKS:
        outputs = [read_output(output, output_space(metadata), task) if i == scored
                   else output for i, output in enumerate(outputs)]
    if task in CLASSIFICATION_TASKS and scored is not None:
        if outputs[scored].ndim > 2:
            raise _misfit(
                f"output '{names[scored]}' has shape {list(outputs[scored].shape)}; a class "
                "table needs one row of class scores per sample",
                hint="write raw outputs to a .npy or .npz file instead",
            )
        probabilities = class_probabilities(outputs[scored], task, output_space(metadata))
        classes = _class_names(metadata, probabilities.shape[1])
        best = probabilities.argmax(axis=1)
        columns = ["prediction", *(f"p_{name}" for name in classes)]
        return columns, [[classes[b], *p] for b, p in zip(best, probabilities.tolist(), strict=True)]
    flat = [output.reshape(rows, -1) for output in outputs]
    if len(flat) == 1:
        width = flat[0].shape[1]
        columns = ["prediction"] if width == 1 else [f"y{i}" for i in range(width)]
    else:
        columns = [
            name if block.shape[1] == 1 else f"{name}_{i}"
            for name, block in zip(names, flat, strict=True)
            for i in range(block.shape[1])
        ]
    return columns, list(np.concatenate(flat, axis=1))


def _scored_output(names: Sequence[str], metadata: Mapping[str, str]) -> int | None:
    """The position of the output that training compared with the targets: metadata
    `scored_output` (a JSON name, or null when the loss read no targets), else the first."""
    if "scored_output" not in metadata:
        return 0
    try:
        name = json.loads(metadata["scored_output"])
    except json.JSONDecodeError as exc:
        raise _bad_metadata(f"metadata scored_output is not JSON: {exc}") from exc
    if name is None:
        return None
    return names.index(name) if name in names else 0


def _class_names(metadata: Mapping[str, str], n_classes: int) -> list[str]:
    """Class names from metadata `class_names` (a JSON list), else "0".."n-1"."""
    if "class_names" not in metadata:
        return [str(i) for i in range(n_classes)]
    try:
        names = json.loads(metadata["class_names"])
    except json.JSONDecodeError as exc:
        raise _bad_metadata(f"metadata class_names is not JSON: {exc}") from exc
    if not isinstance(names, list) or len(names) != n_classes:
        raise _bad_metadata(
            f"metadata class_names must be a list of {n_classes} names, got {names!r}"
        )
    return [str(name) for name in names]


def _fits(shape: Sequence[int], sample_dims: Sequence[Any]) -> bool:
    """Whether a per-sample shape fits the model's dims (named dims take any size)."""
    return len(shape) == len(sample_dims) and all(
        not isinstance(want, int) or want == got
        for got, want in zip(shape, sample_dims, strict=True)
    )


def _reshape(
    raw: np.ndarray, sample_dims: Sequence[Any], path: str | os.PathLike[str]
) -> np.ndarray:
    """Rows flattened and reshaped to the model's per-sample dims."""
    rows = raw.reshape(len(raw), -1)
    width = rows.shape[1]
    fixed = math.prod(d for d in sample_dims if isinstance(d, int))
    dynamic = [i for i, d in enumerate(sample_dims) if not isinstance(d, int)]
    shown = [d if isinstance(d, int) else str(d) for d in sample_dims]
    if len(dynamic) > 1:
        raise _misfit(
            f"{path}: rows of {width} values are ambiguous for the model's sample shape {shown}",
            hint="give a .npy file whose array already has the per-sample shape",
        )
    if (dynamic and (width % fixed or width == 0)) or (not dynamic and width != fixed):
        raise _misfit(
            f"{path}: rows of {width} values do not fit the model's sample shape {shown}",
            hint=f"each row needs {'a multiple of ' if dynamic else ''}{fixed} values",
        )
    target = [width // fixed if not isinstance(d, int) else d for d in sample_dims]
    return rows.reshape(len(rows), *target)


def cell_text(value: Any) -> str:
    """Text for one CSV cell: float32 with 9 significant digits, float64 round-trip exact."""
    if isinstance(value, np.float32 | np.float16):
        return f"{float(value):.9g}"
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, np.integer | np.bool_):
        return str(int(value))
    return str(value)


def _misfit(message: str, hint: str | None = None) -> ExportError:
    """A DLS504 error (prediction input does not fit the model)."""
    return ExportError(Diagnostic("DLS504", message, hint=hint))


def _bad_metadata(message: str) -> ExportError:
    """A DLS503 error: the model's metadata cannot be used."""
    return ExportError(Diagnostic("DLS503", message, hint="re-export the model with dlspec"))

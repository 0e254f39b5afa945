"""The served model: an ONNX Runtime session (opened by `onnx_runtime.open_session`, which
checks the file first), request values -> input arrays -> the columns `dlspec predict` writes.

Rows are fitted to an input with `onnx_tables.fit_to_input` and outputs turned into rows with
`onnx_tables.prediction_table`, the functions `dlspec predict` uses, so the server and the
command cannot drift apart.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlspec.backends.onnx_runtime import legacy_output_space, open_session
from dlspec.backends.onnx_tables import fit_to_input, prediction_table
from dlspec.errors import DlspecError
from dlspec.serve.schemas import PredictRequest, RequestError


@dataclass(frozen=True)
class ModelInput:
    """One input of the model: per-sample dims (ints, or names for dynamic dims)."""

    name: str
    dims: tuple[Any, ...]
    onnx_type: str

    def shown(self) -> str:
        dims = ", ".join(str(d) for d in ("N", *self.dims))
        return f"{self.name} ({dims}) {self.onnx_type.removeprefix('tensor(').rstrip(')')}"


@dataclass(frozen=True)
class Feeds:
    """The arrays of one request, ready for the session; requests with the same `key` (the
    per-sample shapes and dtypes) can share one session call."""

    arrays: dict[str, np.ndarray]
    rows: int

    @property
    def key(self) -> Hashable:
        return tuple((name, a.shape[1:], a.dtype.str) for name, a in self.arrays.items())


class ServedModel:
    """An ONNX file opened for serving."""

    def __init__(self, path: str | Path, *, threads: int | None = None):
        self.path = str(path)
        self.session = open_session(path, intra_op_threads=threads)
        self.inputs = [ModelInput(i.name, tuple(i.shape[1:]), i.type)
                       for i in self.session.get_inputs()]
        batch_dims = [i.shape[0] for i in self.session.get_inputs() if i.shape]
        self.fixed_batch = next((d for d in batch_dims if isinstance(d, int)), None)
        self.output_names = [o.name for o in self.session.get_outputs()]
        metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        if "output_space" not in metadata:  # a file exported before the space was recorded
            metadata["output_space"] = legacy_output_space(path, self.output_names, metadata)
        self.metadata = metadata

    def feeds(self, request: PredictRequest) -> Feeds:
        """The request's arrays, or a RequestError (422) naming the field at fault."""
        if request.rows is not None:
            return self._from_rows(request.rows)
        return self._from_inputs(request.inputs or {})

    def run(self, arrays: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Every output for the rows of `arrays` (padded to a fixed batch dim if the file
        has one)."""
        if self.fixed_batch is None:
            return self.session.run(None, dict(arrays))
        rows = len(next(iter(arrays.values())))
        pieces: list[list[np.ndarray]] = [[] for _ in self.output_names]
        for start in range(0, rows, self.fixed_batch):
            chunk = {name: _padded(a[start:start + self.fixed_batch], self.fixed_batch)
                     for name, a in arrays.items()}
            kept = min(self.fixed_batch, rows - start)
            for store, result in zip(pieces, self.session.run(None, chunk), strict=True):
                store.append(result[:kept])
        return [np.concatenate(store) for store in pieces]

    def table(self, outputs: Sequence[np.ndarray]) -> tuple[list[str], list[dict[str, Any]]]:
        """The columns `dlspec predict` writes and one record per sample."""
        columns, rows = prediction_table(self.output_names, outputs, self.metadata)
        return columns, [dict(zip(columns, map(_plain, row), strict=True)) for row in rows]

    def describe(self) -> dict[str, Any]:
        """What GET /metadata returns."""
        meta = self.metadata
        return {
            "spec_name": meta.get("spec_name"), "spec_sha256": meta.get("spec_sha256"),
            "dlspec_version": meta.get("dlspec_version"), "task": meta.get("task"),
            "precision": meta.get("precision", "fp32"),
            "classes": _json(meta.get("class_names")),
            "preprocessing": meta.get("preprocessing"),
            "accuracy_cost": _json(meta.get("accuracy_cost")),
            "inputs": [{"name": i.name, "shape": ["N", *i.dims], "type": i.onnx_type}
                       for i in self.inputs],
            "outputs": [{"name": o.name, "shape": list(o.shape), "type": o.type}
                        for o in self.session.get_outputs()],
            "spec_inputs": _json(meta.get("inputs")), "spec_outputs": _json(meta.get("outputs")),
        }

    def _from_rows(self, rows: list[list[float]]) -> Feeds:
        if len(self.inputs) != 1:
            raise RequestError(
                422, f"this model has {len(self.inputs)} inputs; `rows` feeds a model with one",
                field="rows", hint="send {\"inputs\": {...}} with "
                + ", ".join(i.shown() for i in self.inputs))
        (model_input,) = self.inputs
        if not rows:
            raise RequestError(422, "rows: the list is empty", field="rows",
                               hint=f"send at least one row for {model_input.shown()}")
        width = len(rows[0])
        for i, row in enumerate(rows):
            if len(row) != width:
                raise RequestError(422, f"rows[{i}]: {len(row)} values where rows[0] has "
                                        f"{width}", field=f"rows[{i}]",
                                   hint=f"every row is one sample of {model_input.shown()}")
        array = self._fit(np.asarray(rows, dtype=np.float64), model_input, "rows")
        return Feeds({model_input.name: array}, len(array))

    def _from_inputs(self, inputs: Mapping[str, list[Any]]) -> Feeds:
        wanted = {i.name: i for i in self.inputs}
        for name in inputs:
            if name not in wanted:
                raise RequestError(422, f"inputs.{name}: the model has no input '{name}'",
                                   field=f"inputs.{name}", hint="its inputs: " + ", ".join(
                                       i.shown() for i in self.inputs))
        missing = [i for i in self.inputs if i.name not in inputs]
        if missing:
            raise RequestError(422, "inputs: missing " + ", ".join(
                f"'{i.name}'" for i in missing), field=f"inputs.{missing[0].name}",
                hint="give every input: " + ", ".join(i.shown() for i in self.inputs))
        arrays: dict[str, np.ndarray] = {}
        for model_input in self.inputs:
            field = f"inputs.{model_input.name}"
            try:
                raw = np.asarray(inputs[model_input.name], dtype=np.float64)
            except ValueError:
                raise RequestError(422, f"{field}: the nested lists are ragged (not one "
                                        "shape)", field=field,
                                   hint=f"samples of {model_input.shown()}") from None
            if raw.ndim == 0 or len(raw) == 0:
                raise RequestError(422, f"{field}: no samples", field=field,
                                   hint=f"samples of {model_input.shown()}")
            arrays[model_input.name] = self._fit(raw, model_input, field)
        counts = {name: len(a) for name, a in arrays.items()}
        if len(set(counts.values())) > 1:
            raise RequestError(422, "inputs: the inputs have different numbers of samples "
                                    f"{counts}", field="inputs",
                               hint="give each input the same number of samples")
        return Feeds(arrays, next(iter(counts.values())))

    def _fit(self, raw: np.ndarray, model_input: ModelInput, field: str) -> np.ndarray:
        """`raw` fitted to the input (fit_to_input: finite after the cast to its dtype, whole
        and in range for an integer input), a value at fault named by its JSON path."""
        try:
            return fit_to_input(raw, model_input.dims, model_input.onnx_type, field,
                                where=lambda index: field + "".join(f"[{i}]" for i in index))
        except DlspecError as err:
            diagnostic = err.diagnostics[0]
            raise RequestError(422, diagnostic.message, field=field, code=diagnostic.code,
                               hint=diagnostic.hint) from None


def _padded(chunk: np.ndarray, size: int) -> np.ndarray:
    """`chunk` with its last row repeated up to `size` rows."""
    if len(chunk) == size:
        return chunk
    return np.concatenate([chunk, np.repeat(chunk[-1:], size - len(chunk), axis=0)])


def _plain(value: Any) -> Any:
    """A JSON value for one cell: numpy scalars and arrays as Python numbers, non-finite
    floats as null (JSON has no NaN)."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text

"""Where `dlspec predict` writes, a chunk of rows at a time: a prediction CSV (columns from
`onnx_tables.prediction_table`), the raw output as .npy, or every output as .npz. Each sink
writes into a temp file that `predict_file` moves onto the output only when every row is
written; a .npy header is written last, once the number of rows is known.
"""

from __future__ import annotations

import abc
import contextlib
import csv
import os
import shutil
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from dlspec.backends.onnx_tables import cell_text, prediction_table
from dlspec.errors import Diagnostic, ExportError
from dlspec.files import FOLDER, SPECIAL, refused_target, temp_path

PLAIN = (str, float, int)  # cells the csv module writes as cell_text would


def check_output(path: str | os.PathLike[str], names: Sequence[str]) -> Path:
    """The output path, or DLS504 before anything runs: not a folder or other non-regular file,
    and a .npy only for a model with one output."""
    kind, path = refused_target(path), Path(path)
    if kind == FOLDER:
        raise _misfit(f"-o {path} is a folder; give a file name (.csv, .npy or .npz) to write")
    if kind == SPECIAL:
        raise _misfit(f"-o {path} exists and is not a regular file; it is never replaced")
    if path.suffix.lower() == ".npy" and len(names) != 1:
        raise _misfit(f"the model has {len(names)} outputs; .npy holds one",
                      hint="write .npz instead")
    return path


def open_sink(tmp: Path, suffix: str, names: Sequence[str],
              metadata: Mapping[str, str]) -> Sink:
    """A sink writing into `tmp` in the format `suffix` selects (any other than .npy/.npz: CSV)."""
    if suffix == ".npy":
        return NpySink(tmp)
    if suffix == ".npz":
        return NpzSink(tmp, names)
    return CsvSink(tmp, names, metadata)


class Sink(abc.ABC):
    """Receives each chunk's outputs (one array per model output); `finish` completes the file,
    `close` releases it (also after an error)."""

    columns: list[str]

    @abc.abstractmethod
    def write(self, outputs: Sequence[np.ndarray]) -> None:
        """Append one chunk's outputs."""

    def finish(self) -> None:  # noqa: B027 (a hook: only files with a trailer need it)
        """Complete the file (all rows written)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the file (after `finish`, or after an error)."""


class CsvSink(Sink):
    """The prediction table: a header row, then one row per sample."""

    def __init__(self, tmp: Path, names: Sequence[str], metadata: Mapping[str, str]) -> None:
        self.names, self.metadata, self.columns = list(names), metadata, []
        self._handle = open(tmp, "w", newline="", encoding="utf-8")  # noqa: SIM115 (close)
        self._writer = csv.writer(self._handle)

    def write(self, outputs: Sequence[np.ndarray]) -> None:
        columns, rows = prediction_table(self.names, outputs, self.metadata)
        if not self.columns:
            self.columns = columns
            self._writer.writerow(columns)
        self._writer.writerows(text_rows(rows))

    def close(self) -> None:
        self._handle.close()


class NpySink(Sink):
    """One output as a .npy array; room for the header is kept at the start and filled in by
    `finish`, when the number of rows is known."""

    def __init__(self, tmp: Path, name: str = "") -> None:
        self.columns = [name]
        self._handle: IO[bytes] = open(tmp, "wb")  # noqa: SIM115 (closed by close)
        self._rows = 0
        self._dtype: np.dtype[Any] | None = None
        self._sample: tuple[int, ...] = ()
        self._room = 0

    def write(self, outputs: Sequence[np.ndarray]) -> None:
        (output,) = outputs
        if self._dtype is None:
            self._dtype, self._sample = output.dtype, tuple(output.shape[1:])
            self._room = len(_header(self._dtype, (10**20, *self._sample), 0))
            self._handle.write(b"\0" * self._room)
        self._handle.write(np.ascontiguousarray(output, dtype=self._dtype).tobytes())
        self._rows += len(output)

    def finish(self) -> None:
        assert self._dtype is not None, "finish before any rows"
        self._handle.seek(0)
        self._handle.write(_header(self._dtype, (self._rows, *self._sample), self._room))
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class NpzSink(Sink):
    """Every output by name in a .npz: each streamed to its own temp .npy, zipped at the end."""

    def __init__(self, tmp: Path, names: Sequence[str]) -> None:
        self.tmp, self.columns = tmp, list(names)
        self._parts = [temp_path(tmp, f".{i}.npy") for i in range(len(names))]
        self._sinks = [NpySink(part, name) for part, name in zip(self._parts, names,
                                                                 strict=True)]

    def write(self, outputs: Sequence[np.ndarray]) -> None:
        for sink, output in zip(self._sinks, outputs, strict=True):
            sink.write([output])

    def finish(self) -> None:
        for sink in self._sinks:
            sink.finish()
            sink.close()
        with zipfile.ZipFile(self.tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, part in zip(self.columns, self._parts, strict=True):
                with open(part, "rb") as source, archive.open(f"{name}.npy", "w",
                                                              force_zip64=True) as target:
                    shutil.copyfileobj(source, target, 1 << 20)

    def close(self) -> None:
        for sink, part in zip(self._sinks, self._parts, strict=True):
            sink.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(part)


def text_rows(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """The cells of a chunk as `onnx_tables.cell_text` writes them, a whole array at a time
    where the rows are arrays (Python floats, ints and strings go to the csv module as they
    are: it writes a float's repr, as cell_text does)."""
    if len(rows) and isinstance(rows[0], np.ndarray):
        table = np.stack(rows)
        if table.dtype == np.float64:
            return table.tolist()
        if table.dtype.kind == "f":
            return [[f"{value:.9g}" for value in row] for row in table.tolist()]
        if table.dtype.kind in "biu":
            return table.astype(np.int64 if table.dtype.kind == "b" else table.dtype).tolist()
    return [[value if type(value) in PLAIN else cell_text(value) for value in row]
            for row in rows]


def _header(dtype: np.dtype[Any], shape: tuple[int, ...], room: int) -> bytes:
    """A .npy (version 1.0) header for `dtype` and `shape`, padded with spaces to `room` bytes
    (0: to the next multiple of 64, as numpy writes it)."""
    text = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                 "shape": shape}).encode("latin1")
    size = room or -(-(10 + len(text) + 1) // 64) * 64
    body = text + b" " * (size - 10 - len(text) - 1) + b"\n"
    return b"\x93NUMPY\x01\x00" + (size - 10).to_bytes(2, "little") + body


def _misfit(message: str, hint: str | None = None) -> ExportError:
    """A DLS504 error (prediction input or output does not fit)."""
    return ExportError(Diagnostic("DLS504", message, hint=hint))

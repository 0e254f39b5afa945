"""The samples `dlspec predict` reads, a chunk of rows at a time, so memory stays flat in the
number of rows: a CSV is parsed a chunk of lines at a time (a first row with any non-numeric
cell is a header), a .npy file is mapped (mmap) after its header was checked against the file's
size, and its pages are released after each chunk. Every problem is a DLS504 naming the file
(and the line or row).
"""

from __future__ import annotations

import abc
import contextlib
import csv
import io
import math
import mmap
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from dlspec.backends.onnx_file import open_regular
from dlspec.data.files import is_number
from dlspec.errors import Diagnostic, ExportError

MAX_LINE_CHARS = 32 * 2**20  # one CSV line (a sample); longer lines are refused unread
CHUNK_BYTES = 32 * 2**20  # float64 values per chunk, at most (and at least one row)
MEMORY_SHARE = 4  # a row may take at most 1/4 of the memory available


@dataclass(frozen=True)
class Chunk:
    """Consecutive data rows of a file: `values` (rows, ...), the index of the first data row,
    and for a CSV each row's line number."""

    values: np.ndarray
    start: int
    lines: tuple[int, ...] | None = None


class SampleSource(abc.ABC):
    """A .csv or .npy file of samples, read as chunks; use as a context manager."""

    path: str
    had_header: bool = False

    @abc.abstractmethod
    def chunks(self, rows: int) -> Iterator[Chunk]:
        """The samples, `rows` at a time."""

    @abc.abstractmethod
    def where(self, chunk: Chunk, index: Sequence[int]) -> str:
        """A value's place for messages: `index` is (row in chunk, *place in the row)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> SampleSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_samples(path: str | os.PathLike[str]) -> SampleSource:
    """The sample source for a .csv or .npy file (checked to be a regular file)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return CsvSource(path)
    if suffix == ".npy":
        return NpySource(path)
    raise _misfit(f"{path}: prediction input must be a .csv or .npy file")


def read_samples(path: str | os.PathLike[str]) -> tuple[np.ndarray, bool]:
    """All samples of a .csv or .npy file at once, and whether a CSV header row was found."""
    with open_samples(path) as source:
        values = [chunk.values for chunk in source.chunks(1 << 16)]
        return np.concatenate(values), source.had_header


def chunk_rows(row_values: int, wanted: int, path: str | os.PathLike[str]) -> int:
    """Rows per chunk: `wanted`, fewer when rows are large (CHUNK_BYTES as float64), at least
    one; DLS504 when one row alone would not fit in the memory available."""
    row_bytes = 8 * max(row_values, 1)
    available = available_memory()
    if available is not None and row_bytes * MEMORY_SHARE > available:
        raise _misfit(f"{path}: one sample holds {row_values:,} values ({_size(row_bytes)} as "
                      f"float64), more than this machine can hold ({_size(available)} of "
                      "memory available)")
    return max(1, min(wanted, CHUNK_BYTES // row_bytes))


def available_memory() -> int | None:
    """Bytes of memory available now (Linux MemAvailable, else free pages), None if unknown."""
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo", encoding="ascii") as lines:
        for line in lines:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    with contextlib.suppress(AttributeError, ValueError, OSError):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return None


class CsvSource(SampleSource):
    """A CSV of numbers; the first non-blank row is a header when any cell is not a number."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._handle = io.TextIOWrapper(open_regular(path), encoding="utf-8-sig", newline="")
        self._reader = csv.reader(self._lines())
        first = self._next_row()
        if first is None:
            self.close()
            raise _misfit(f"{path} is empty: it has no data rows",
                          hint="give one sample per row, numbers separated by commas")
        self.header = first[1] if not all(is_number(cell) for cell in first[1]) else None
        self.had_header = self.header is not None
        self._first = None if self.had_header else first

    def chunks(self, rows: int) -> Iterator[Chunk]:
        width: int | None = None
        buffer: list[list[str]] = []
        lines: list[int] = []
        start = 0
        row = self._first or self._next_row()
        while row is not None:
            line_number, cells = row
            if width is None:
                width = len(cells)
                rows = chunk_rows(width, rows, self.path)
            elif len(cells) != width:
                raise _misfit(f"{self.path}:{line_number}: {len(cells)} cells where the first "
                              f"row has {width}")
            buffer.append(cells)
            lines.append(line_number)
            if len(buffer) == rows:
                yield Chunk(self._numbers(buffer, lines), start, tuple(lines))
                start += len(buffer)
                buffer, lines = [], []
            row = self._next_row()
        if buffer:
            yield Chunk(self._numbers(buffer, lines), start, tuple(lines))
        elif start == 0:
            raise _misfit(f"{self.path} has a header row but no data rows")

    def where(self, chunk: Chunk, index: Sequence[int]) -> str:
        row, column = index[0], index[1] if len(index) > 1 else 0
        name = f" ({self.header[column]!r})" if self.header and column < len(self.header) else ""
        line = chunk.lines[row] if chunk.lines else chunk.start + row
        return f"{self.path}:{line}: column {column + 1}{name}"

    def close(self) -> None:
        self._handle.close()

    def _lines(self) -> Iterator[str]:
        """The file's lines, each read with a length limit (a file without line breaks is not
        read into memory whole)."""
        while True:
            line = self._handle.readline(MAX_LINE_CHARS + 1)
            if not line:
                return
            if len(line) > MAX_LINE_CHARS:
                raise _misfit(f"{self.path}:{self._reader.line_num + 1}: a line longer than "
                              f"{MAX_LINE_CHARS:,} characters; one sample per line is expected")
            yield line

    def _next_row(self) -> tuple[int, list[str]] | None:
        """(line number, cells) of the next non-blank row, or None at the end."""
        try:
            for row in self._reader:
                if any(cell.strip() for cell in row):
                    return self._reader.line_num, row
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise _misfit(f"cannot read {self.path} as CSV (line "
                          f"{self._reader.line_num + 1}): {exc}") from exc
        return None

    def _numbers(self, rows: list[list[str]], lines: Sequence[int]) -> np.ndarray:
        """The cells as float64 (as `float` reads them), or DLS504 at the first bad cell."""
        try:
            return np.array(rows, dtype=np.float64)
        except ValueError:
            pass
        for line_number, cells in zip(lines, rows, strict=True):
            for cell in cells:
                if not is_number(cell):
                    raise _misfit(f"{self.path}:{line_number}: cell {cell!r} is not a number")
        raise _misfit(f"{self.path}: cells that are not numbers")  # numpy refused, float did not


class NpySource(SampleSource):
    """A numeric .npy array with one sample per row, mapped after its header was checked."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._handle = open_regular(path)
        self._map: mmap.mmap | None = None
        self._offset = 0
        try:
            self.array = self._map_array()
        except BaseException:
            self.close()
            raise

    def chunks(self, rows: int) -> Iterator[Chunk]:
        rows = chunk_rows(math.prod(self.array.shape[1:]), rows, self.path)
        for start in range(0, len(self.array), rows):
            values = np.array(self.array[start : start + rows])  # a copy: the map may go
            self._release(start, start + len(values))
            yield Chunk(values, start)

    def where(self, chunk: Chunk, index: Sequence[int]) -> str:
        place = ", ".join(str(i) for i in (chunk.start + index[0], *index[1:]))
        return f"{self.path}[{place}]"

    def close(self) -> None:
        self.array = None  # type: ignore[assignment]  # no view may outlive the map
        if self._map is not None:
            self._map.close()
            self._map = None
        self._handle.close()

    def _release(self, start: int, stop: int) -> None:
        """Drop the mapped pages of rows start..stop from the resident set (the page cache
        keeps them), so that memory does not grow with the file."""
        if self._map is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        if not self.array.flags.c_contiguous:  # Fortran order: a row spans every page
            self._map.madvise(mmap.MADV_DONTNEED)
            return
        row_bytes = self.array.strides[0]
        first = (self._offset + start * row_bytes) // mmap.PAGESIZE * mmap.PAGESIZE
        last = min(self._offset + stop * row_bytes, len(self._map))
        if last > first:
            self._map.madvise(mmap.MADV_DONTNEED, first, last - first)

    def _map_array(self) -> np.ndarray:
        """The array the header describes, mapped from the file; DLS504 for a header that is
        not a numeric array's, or that claims more data than the file holds."""
        handle: IO[bytes] = self._handle
        fmt = np.lib.format
        try:
            version = fmt.read_magic(handle)
            read_header = {(1, 0): fmt.read_array_header_1_0,
                           (2, 0): fmt.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"format version {version[0]}.{version[1]} is not supported")
            shape, fortran_order, dtype = read_header(handle)
        except (OSError, ValueError, SyntaxError, TypeError) as exc:
            raise _misfit(f"cannot read {self.path} as a .npy array: {exc}") from exc
        if dtype.hasobject or dtype.kind not in "biuf" or dtype.subdtype is not None:
            raise _misfit(f"{self.path} holds {dtype} values; prediction needs numbers "
                          "(pickled objects are never loaded)")
        if len(shape) == 0:
            raise _misfit(f"{self.path} holds a single value; give one sample per row")
        if shape[0] == 0:
            raise _misfit(f"{self.path} is empty: its array has shape {tuple(shape)}, no rows")
        offset = self._offset = handle.tell()
        needed = math.prod(shape) * dtype.itemsize
        held = os.fstat(handle.fileno()).st_size - offset
        if needed > held:
            raise _misfit(f"{self.path}: its header claims shape {tuple(shape)} of {dtype} "
                          f"({_size(needed)}), but the file holds {_size(held)} of data",
                          hint="the file is truncated or its header is wrong")
        order = "F" if fortran_order else "C"
        if needed == 0:
            return np.empty(shape, dtype=dtype, order=order)
        self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return np.ndarray(shape, dtype=dtype, buffer=self._map, offset=offset, order=order)


def _size(count: int) -> str:
    """A byte count for people: 51.2 TB."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if count < 1000 or unit == "PB":
            return f"{count:,} bytes" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000  # type: ignore[assignment]
    return f"{count}"


def _misfit(message: str, hint: str | None = None) -> ExportError:
    """A DLS504 error (prediction input does not fit the model)."""
    return ExportError(Diagnostic("DLS504", message, hint=hint))

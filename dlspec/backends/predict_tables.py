"""Prediction input for a model trained on a table with categorical columns: a CSV with a
header, read by column name and encoded as training encoded it (the `columns` an exported
file records: numbers, one-hot or index categories from the train split), so `dlspec
predict` takes the raw text. Other columns of the file (a target, an id) are left out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dlspec.backends.predict_sources import Chunk, CsvSource, SampleSource, _misfit

COLUMNS_KEY = "columns"  # the metadata entry: JSON list of {name, encoding, categories, ..}


def recorded_columns(metadata: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """The columns an exported file records (None when it records none); DLS504 when the
    entry is not what export writes."""
    text = metadata.get(COLUMNS_KEY)
    if text is None:
        return None
    try:
        columns = json.loads(text)
        ok = isinstance(columns, list) and all(
            isinstance(c, dict) and isinstance(c.get("name"), str) and
            c.get("encoding") in ("number", "one_hot", "index") and
            (c["encoding"] == "number" or isinstance(c.get("categories"), list))
            for c in columns)
    except ValueError:
        ok = False
    if not ok:
        raise _misfit(f"the model's '{COLUMNS_KEY}' metadata is not a list of columns",
                      hint="export the run again with this dlspec")
    return columns


class TableSource(CsvSource):
    """A CSV of raw table rows, encoded by the recorded columns (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str], columns: Sequence[Mapping[str, Any]]):
        super().__init__(path)
        self.columns = list(columns)
        names = [c["name"] for c in self.columns]
        if self.header is None:
            self.close()
            raise _misfit(f"{path} has no header row; this model reads its columns by name "
                          f"({', '.join(names)})", hint="add a header row naming the columns")
        header = [h.strip() for h in self.header]
        missing = [n for n in names if n not in header]
        if missing:
            self.close()
            raise _misfit(f"{path} has no column '{missing[0]}', which the model reads "
                          f"(its columns: {', '.join(names)})")
        self._at = [header.index(n) for n in names]

    def _numbers(self, rows: list[list[str]], lines: Sequence[int]) -> np.ndarray:
        from dlspec.data.table_columns import encode_rows

        picked = [[row[k] for k in self._at] for row in rows]

        def where(i: int, j: int) -> str:
            return f"{self.path}:{lines[i]}: column '{self.columns[j]['name']}'"

        return encode_rows(picked, self.columns, where)


def open_table_or_samples(path: str | os.PathLike[str], metadata: Mapping[str, str]
                          ) -> SampleSource:
    """A TableSource for a CSV when the model records its columns, else open_samples."""
    from dlspec.backends.predict_sources import open_samples

    columns = recorded_columns(metadata)
    if columns is None or not str(path).lower().endswith(".csv"):
        return open_samples(path)
    return TableSource(path, columns)


__all__ = ["COLUMNS_KEY", "Chunk", "TableSource", "open_table_or_samples", "recorded_columns"]

"""Table columns beyond plain numbers: class probabilities as targets, categorical feature
columns encoded with categories fitted on the train split, and missing values filled per
column.

A categorical column arrives from files.py as indices into the sorted categories of the whole
file (NaN where missing). `encode_categorical` keeps the categories the train split has:
'one_hot' gives one 0/1 column per category (`<column>=<category>`, scikit-learn's
OneHotEncoder with sorted categories), 'index' one whole number, 1.. per category and 0 for
an unknown one (Keras' StringLookup with one out-of-vocabulary index). A category that the
train split lacks is an error, or encoded as unknown (data.unknown_category: ignore).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from dlspec.data.builtin import RawData
from dlspec.data.fields import FieldError
from dlspec.data.table_config import categorical_fill, column_strategy
from dlspec.errors import Diagnostic, ExportError

SUM_TOLERANCE = 1e-3  # how far from 1 a row of class probabilities may sum


def _number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def probability_targets(rows: Sequence[Sequence[str]], names: Sequence[str],
                        where: Callable[[int], str]
                        ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Targets from one column per class holding its probability (soft or one-hot labels):
    float (n, classes), the class names (the columns), and the rows with a missing cell.
    DLS401 at data.target for a cell that is not a probability or a row that does not sum
    to 1 (within SUM_TOLERANCE)."""
    from dlspec.data.files import MISSING_CELLS

    y = np.zeros((len(rows), len(names)))
    absent = np.zeros(len(rows), dtype=bool)
    for i, cells in enumerate(rows):
        if any(c.strip().lower() in MISSING_CELLS for c in cells):
            absent[i] = True
            continue
        for j, cell in enumerate(cells):
            value = _number(cell)
            if value is None or not 0 <= value <= 1:
                raise _at_target(f"{where(i)}: target column '{names[j]}' holds "
                                 f"'{cell.strip()}', which is not a probability in [0, 1]")
            y[i, j] = value
        total = y[i].sum()
        if abs(total - 1) > SUM_TOLERANCE:
            raise _at_target(f"{where(i)}: the target columns {', '.join(names)} sum to "
                             f"{total:.6g}; class probabilities must sum to 1 (within "
                             f"{SUM_TOLERANCE:g})")
    return y, list(names), absent


def _at_target(message: str) -> FieldError:
    return FieldError([(("data", "target"), Diagnostic(
        "DLS401", message, hint="each row's target columns are the probabilities of the "
        "classes (one-hot: a single 1); fix the row, or name one column of class labels"))])


def fill_value(strategy: str | float, train: np.ndarray, default: float) -> float | None:
    """The number a strategy fills a numeric column's missing cells with, from its train
    values (None for error and drop, which files.py applied; NaN when the train split
    holds no value to compute it from)."""
    if not isinstance(strategy, str):
        return float(strategy)
    if strategy in ("error", "drop"):
        return None
    if strategy in ("zero", "constant"):
        return 0.0 if strategy == "zero" else default
    present = train[~np.isnan(train)]
    if not len(present):
        return math.nan
    if strategy == "mean":
        return float(present.mean())
    if strategy == "median":
        return float(np.median(present))
    values, counts = np.unique(present, return_counts=True)  # ties: the smallest value
    return float(values[np.argmax(counts)])


def fill_columns(x: np.ndarray, train_rows: np.ndarray, strategies: Sequence[str | float],
                 names: Sequence[str], default: float) -> np.ndarray:
    """x (n, columns) with each column's missing cells filled as its strategy says (from the
    train rows); DLS401 at data.missing when a column has no train value to fill from."""
    holes = np.isnan(x)
    if not holes.any():
        return x
    filled = x.copy()
    for j in np.flatnonzero(holes.any(axis=0)):
        value = fill_value(strategies[j], x[train_rows, j], default)
        if value is not None and math.isnan(value):
            raise FieldError([(("data", "missing"), Diagnostic(
                "DLS401", f"column '{names[j]}' has no values in the train split to take a "
                f"{strategies[j]} from", hint="set data.missing to zero or drop, or leave it "
                "out"))])
        if value is not None:
            filled[holes[:, j], j] = value
    return filled


def encode_categorical(raw: RawData, categories: Mapping[str, list[str]], config: Any,
                       train_rows: np.ndarray, source: str
                       ) -> tuple[RawData, list[dict[str, Any]]]:
    """The raw data with its categorical columns encoded (categories of the train split),
    and every feature column as exported files record it (`columns` metadata)."""
    encodings = config.categorical or {}
    pieces, names, columns = [], [], []
    for j, name in enumerate(raw.feature_names):
        if name not in categories:
            pieces.append(raw.x[:, j:j + 1].astype(np.float64))
            names.append(name)
            fill = fill_value(column_strategy(config, name), raw.x[train_rows, j],
                              config.fill_value)
            columns.append({"name": name, "encoding": "number",
                            "fill": None if fill is None or math.isnan(fill) else fill})
            continue
        known, codes, fill = _train_categories(raw.x[:, j], categories[name], config,
                                               train_rows, name, source)
        if encodings[name] == "one_hot":
            pieces.append((codes[:, None] == np.arange(len(known))).astype(np.float64))
            names += [f"{name}={category}" for category in known]
        else:
            pieces.append((codes + 1).astype(np.float64)[:, None])
            names.append(name)
        columns.append({"name": name, "encoding": encodings[name], "categories": known,
                        "unknown": config.unknown_category, "fill": fill})
    x = np.concatenate(pieces, axis=1).astype(np.float32)
    fields = {}
    for group, members in (config.inputs or {}).items():  # the input each column feeds
        for column in columns:
            if column["name"] in members:
                column["input"] = group
    if config.inputs is not None:
        widths = [pieces[raw.feature_names.index(c)].shape[1] for c in raw.feature_names]
        starts = np.cumsum([0, *widths])
        for group, members in config.inputs.items():
            picked = [x[:, starts[raw.feature_names.index(c)]:starts[raw.feature_names.index(
                c) + 1]] for c in members]
            values = np.concatenate(picked, axis=1)
            index_only = all(encodings.get(c) == "index" for c in members)
            fields[group] = values.astype(np.int64) if index_only else values
    return raw._replace(x=x, feature_names=names, fields=fields), columns


def _train_categories(codes: np.ndarray, categories: list[str], config: Any,
                      train_rows: np.ndarray, name: str, source: str
                      ) -> tuple[list[str], np.ndarray, str | None]:
    """The categories the train rows have, every row's index into them (-1: unknown), and
    the category that filled the missing cells (the train split's most frequent; None when
    the column's strategy fills none)."""
    holes, filled = np.isnan(codes), None
    strategy = column_strategy(config, name)
    train = codes[train_rows][~holes[train_rows]]
    if strategy == "most_frequent" and len(train):
        values, counts = np.unique(train, return_counts=True)  # ties: the first in order
        filled = categories[int(values[np.argmax(counts)])]
    if holes.any():
        if not categorical_fill(strategy):
            what = strategy if isinstance(strategy, str) else f"the number {strategy:g}"
            raise _at_column(name, f"column '{name}' is categorical and has missing cells, "
                             f"which cannot be filled with {what}",
                             f"set data.missing_columns: {{{name}: most_frequent}} (or drop)")
        if filled is None:
            raise _at_column(name, f"column '{name}' has no category in the train split to "
                             "fill its missing cells with", None)
        codes = np.where(holes, float(categories.index(filled)), codes)
    seen = np.unique(codes[train_rows]).astype(np.int64)
    position = np.full(len(categories), -1, dtype=np.int64)
    position[seen] = np.arange(len(seen))
    encoded = position[codes.astype(np.int64)]
    unknown = np.flatnonzero(encoded < 0)
    if len(unknown) and config.unknown_category == "error":
        first = categories[int(codes[unknown[0]])]
        raise _at_column(name, f"{source}: column '{name}' holds '{first}' (sample "
                         f"{int(unknown[0])}, {len(unknown)} sample(s) in all), a category "
                         f"the train split does not have",
                         "set data.unknown_category: ignore to encode it as unknown")
    return [categories[k] for k in seen], encoded, filled


def _at_column(name: str, message: str, hint: str | None) -> FieldError:
    return FieldError([(("data", "categorical", name), Diagnostic("DLS401", message,
                                                                  hint=hint))])


def encode_rows(cells: Sequence[Sequence[str]], columns: Sequence[Mapping[str, Any]],
                where: Callable[[int, int], str]) -> np.ndarray:
    """Rows of raw CSV cells (one per recorded column, in order) encoded as training
    encoded them: numbers as they are, categories one-hot or as indices, a missing cell
    filled with the column's recorded fill; DLS504 naming the cell for a number that is not
    one, a missing cell training filled nothing for, or an unknown category where the run
    said error."""
    from dlspec.data.files import MISSING_CELLS

    out = []
    for i, row in enumerate(cells):
        values: list[float] = []
        for j, (cell, column) in enumerate(zip(row, columns, strict=True)):
            text = cell.strip()
            if text.lower() in MISSING_CELLS and column.get("fill") is not None:
                text = str(column["fill"])  # filled as training filled it
            if text.lower() in MISSING_CELLS:
                raise _unreadable(f"{where(i, j)}: the cell is missing, and training filled "
                                  "no value for this column (it recorded no fill: give the "
                                  "column a filling data.missing_columns strategy and train "
                                  "again)")
            if column["encoding"] == "number":
                value = _number(text)
                if value is None:
                    raise _unreadable(f"{where(i, j)}: '{text}' is not a number")
                values.append(value)
                continue
            known = column["categories"]
            k = known.index(text) if text in known else -1
            if k < 0 and column.get("unknown") != "ignore":
                raise _unreadable(f"{where(i, j)}: '{text}' is not a category the model was "
                                  f"trained on ({', '.join(known[:8])}"
                                  f"{', ...' if len(known) > 8 else ''})")
            if column["encoding"] == "one_hot":
                values += [1.0 if m == k else 0.0 for m in range(len(known))]
            else:
                values.append(float(k + 1))
        out.append(values)
    return np.array(out, dtype=np.float64)


def _unreadable(message: str) -> ExportError:
    return ExportError(Diagnostic("DLS504", message))

"""Reading the user's own data: CSV files with a header row, and NPZ archives (never pickles).

Loaders return `RawData` with float32 features; missing cells are reported, dropped or left
as NaN for `fill_missing` to fill from the train split, as the `missing` policy says.
"""

from __future__ import annotations

import csv
import math
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from dlspec.data.builtin import RawData
from dlspec.data.fields import FieldError
from dlspec.errors import DataError, Diagnostic, suggest

MissingPolicy = Literal["error", "drop", "mean", "median", "most_frequent", "zero", "constant"]
# a policy for every column alike, or one per feature column (data.missing_columns)
Policies = MissingPolicy | Sequence[MissingPolicy | float]
MISSING_CELLS = frozenset({"", "na", "nan", "n/a", "null"})
_FIX_MISSING = ("fill the cell in, or set data.missing (or data.missing_columns for this "
                "column) to drop, mean, median, most_frequent, zero or constant")


def _fail(message: str, hint: str | None = None) -> DataError:
    return DataError(Diagnostic("DLS401", message, hint=hint))


def _require_file(path: Path) -> None:
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise _fail(f"data file {path} {what}",
                    hint="data paths are relative to the spec file's folder")


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_CELLS


def _encode_labels(labels: list[str] | np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Class indices into the sorted distinct labels, and those labels."""
    names = sorted({str(v) for v in labels})
    indices = np.searchsorted(np.array(names), np.asarray(labels, dtype=str))
    return indices.astype(np.int64), names


def _read_table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the data rows of a CSV file, each row with its line number."""
    _require_file(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except (UnicodeDecodeError, csv.Error) as error:
        raise _fail(f"{path} cannot be read as UTF-8 CSV: {error}") from error
    if not header:
        raise _fail(f"{path} is empty", hint="a CSV file needs a header row of column names")
    if all(is_number(name) for name in header):
        raise _fail(f"{path}: the first row looks like data, not column names",
                    hint="add a header row naming each column")
    if "" in header:
        raise _fail(f"{path}: column {header.index('') + 1} of the header has no name",
                    hint="name every column (pandas: write the file with index=False)")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise _fail(f"{path}: column name(s) {', '.join(twice)} appear more than once in the header")
    if not rows:
        raise _fail(f"{path} has a header but no data rows")
    for line, row in rows:
        if len(row) != len(header):
            raise _fail(f"{path}:{line}: {len(row)} cells, but the header names {len(header)} columns")
    return header, rows


def is_number(cell: str) -> bool:
    """Whether a CSV cell holds a number."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _column_index(header: list[str], name: str, path: Path, role: str) -> int:
    if name not in header:
        raise _fail(f"{path} has no column '{name}' (named as the {role})",
                    hint=suggest(name, header))
    return header.index(name)


def _feature_cell(cell: str, where: str, column: str) -> float:
    if _is_missing(cell):
        return math.nan
    try:
        value = float(cell)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        raise _fail(f"{where}: column '{column}' holds '{cell.strip()}', which is not a finite number",
                    hint="features must be numbers: encode categories as numbers, or leave the "
                    "column out by listing the ones to use in data.features")
    return value


def _target_column(cells: list[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Targets: numbers when every present cell is a finite number, else class labels."""
    cells = [c.strip() for c in cells]
    absent = np.array([_is_missing(c) for c in cells], dtype=bool)
    present = [c for c in cells if not _is_missing(c)]
    if all(is_number(c) and math.isfinite(float(c)) for c in present):
        return np.array([math.nan if _is_missing(c) else float(c) for c in cells]), [], absent
    indices, names = _encode_labels(present)
    y = np.zeros(len(cells), dtype=np.int64)
    y[~absent] = indices
    return y, names, absent


def load_csv(path: Path, target: str | list[str] | None = None,
             features: list[str] | None = None, missing: MissingPolicy = "error",
             groups: dict[str, list[str]] | None = None,
             categorical: Mapping[str, str] | None = None,
             missing_columns: Mapping[str, str | float] | None = None) -> RawData:
    """Read a CSV file with a header row into features and a target column.

    The target defaults to the last column and the features to every other column. A target
    column that is not all numbers holds class labels: its sorted distinct values become the
    class names; a list of target columns holds each class's probability (see
    table_columns.probability_targets). Missing cells (empty, NA, NaN, null) follow
    `missing`, or a column's own policy in `missing_columns`. `groups` (the spec's data.inputs)
    makes each group of columns a field of its own, named by the group. `categorical`
    columns hold text: see `load_csv_columns`.
    """
    return load_csv_columns(path, target, features, missing, groups, categorical,
                            missing_columns)[0]


def load_csv_columns(path: Path, target: str | list[str] | None = None,
                     features: list[str] | None = None, missing: MissingPolicy = "error",
                     groups: dict[str, list[str]] | None = None,
                     categorical: Mapping[str, str] | None = None,
                     missing_columns: Mapping[str, str | float] | None = None
                     ) -> tuple[RawData, dict[str, list[str]]]:
    """`load_csv`, and the sorted distinct values of each `categorical` column: its cells
    are indices into them (float, NaN where missing), for table_columns.py to encode."""
    from dlspec.data.table_columns import probability_targets

    path = Path(path)
    header, rows = _read_table(path)
    targets = target if isinstance(target, list) else [target or header[-1]]
    target_columns = [_column_index(header, name, path, "target") for name in targets]
    target_at = target_columns[0]
    if groups is not None:
        _check_groups(groups, header, header[target_at], path)
        features = [column for columns in groups.values() for column in columns]
    names = features if features is not None else [h for h in header if h not in targets]
    both = [name for name in targets if name in names]
    if both:
        raise _fail(f"{path}: column '{both[0]}' is both the target and a feature",
                    hint="remove it from data.features")
    if not names:
        raise _fail(f"{path} has no feature columns besides the target '{header[target_at]}'")
    columns = [_column_index(header, name, path, "feature") for name in names]
    _check_named(path, header, names, categorical, "categorical")
    _check_named(path, header, names, missing_columns, "missing_columns")
    own = missing_columns or {}
    policies = [own.get(name, missing) for name in names]
    lines = [line for line, _ in rows]

    def where(i: int) -> str:
        return f"{path}:{lines[i]} (data row {i + 1})"

    categories = {name: sorted({row[c].strip() for _, row in rows if not _is_missing(row[c])})
                  for name, c in zip(names, columns, strict=True) if name in (categorical or {})}
    x = np.array([[_category(row[c], categories[header[c]]) if header[c] in categories
                   else _feature_cell(row[c], where(i), header[c]) for c in columns]
                  for i, (_, row) in enumerate(rows)], dtype=np.float64)
    if len(targets) > 1:
        y, class_names, no_target = probability_targets(
            [[row[c] for c in target_columns] for _, row in rows], targets, where)
    else:
        y, class_names, no_target = _target_column([row[target_at] for _, row in rows])
    raw = RawData(x.reshape(len(rows), len(columns)).astype(np.float32), y, list(names), class_names)
    raw = resolve_missing(raw, no_target, policies, str(path), ", ".join(targets), where,
                          drop_targets=missing == "drop")
    if groups is None:
        return raw, categories
    ends = np.cumsum([len(columns) for columns in groups.values()])
    return raw._replace(fields=dict(zip(groups, np.split(raw.x, ends[:-1], axis=1),
                                        strict=True))), categories


def _category(cell: str, categories: list[str]) -> float:
    """A text cell as its index into the column's sorted categories (NaN when missing)."""
    if _is_missing(cell):
        return math.nan
    return float(categories.index(cell.strip()))


def _check_named(path: Path, header: list[str], names: list[str],
                 columns: Mapping[str, object] | Sequence[str] | None, key: str) -> None:
    """Every column a data key names by name is a feature column of the file (located at
    data.<key>.<column>)."""
    problems = []
    for column in columns or ():
        if column not in names:
            what = "a feature column of" if column in header else "a column of"
            problems.append((("data", key, column), Diagnostic(
                "DLS401", f"data.{key} names '{column}', which is not {what} {path}",
                hint=suggest(column, names) if column not in header else
                "list it among the features (data.features or data.inputs)")))
    if problems:
        raise FieldError(problems)


def _check_groups(groups: dict[str, list[str]], header: list[str], target: str,
                  path: Path) -> None:
    """Every column of data.inputs is in the file and is not the target (located at it)."""
    problems = []
    for group, columns in groups.items():
        for i, column in enumerate(columns):
            if column not in header:
                problems.append((("data", "inputs", group, i), Diagnostic(
                    "DLS401", f"{path} has no column '{column}' (in data.inputs.{group})",
                    hint=suggest(column, header))))
            elif column == target:
                problems.append((("data", "inputs", group, i), Diagnostic(
                    "DLS401", f"{path}: column '{column}' is both the target and in "
                    f"data.inputs.{group}", hint=f"remove it from data.inputs.{group}, or "
                    "name another target column in data.target")))
    if problems:
        raise FieldError(problems)


def resolve_missing(raw: RawData, no_target: np.ndarray, missing: Policies, source: str,
                    target_name: str, where: Callable[[int], str],
                    drop_targets: bool | None = None) -> RawData:
    """Apply the `error` and `drop` policies (one for all columns, or one per column);
    other policies keep NaN for `fill_missing`.

    `no_target` marks rows whose target is missing (dropped when `drop_targets`, by default
    when `missing` is drop); `where(i)` locates row i for messages.
    """
    holes = np.isnan(raw.x)
    policies = [missing] * raw.x.shape[1] if isinstance(missing, str) else list(missing)
    dropping = np.array([p == "drop" for p in policies], dtype=bool)
    if drop_targets is None:
        drop_targets = isinstance(missing, str) and missing == "drop"
    if dropping.any() or drop_targets:
        keep = ~(holes[:, dropping].any(axis=1) | (no_target & drop_targets))
        if not keep.any():
            raise _fail(f"{source}: every row has a missing value; nothing is left after "
                        "missing: drop")
        raw = raw._replace(x=raw.x[keep], y=raw.y[keep],
                           fields={name: a[keep] for name, a in raw.fields.items()})
        no_target, holes = no_target[keep], holes[keep]
        kept = np.flatnonzero(keep)
        located = where
        where = lambda i: located(int(kept[i]))  # noqa: E731 (rows as the file numbers them)
    if no_target.any():
        row = int(np.argmax(no_target))
        raise _fail(f"{where(row)}: the target '{target_name}' is missing",
                    hint="a target cannot be filled in; set data.missing: drop to skip such rows")
    errors = holes & np.array([p == "error" for p in policies], dtype=bool)
    if errors.any():
        row, col = (int(i) for i in np.argwhere(errors)[0])
        more = int(errors.sum()) - 1
        tail = f" ({more} more cell(s) are missing)" if more else ""
        raise _fail(f"{where(row)}: column '{raw.feature_names[col]}' is missing{tail}",
                    hint=_FIX_MISSING)
    return raw


def _npz_array(archive, key: str, path: Path) -> np.ndarray:
    if key not in archive.files:
        raise _fail(f"{path} has no array '{key}'", hint=suggest(key, archive.files))
    try:
        return archive[key]
    except ValueError as error:  # object arrays need pickle, which is refused
        raise _fail(f"array '{key}' in {path} holds Python objects (dtype=object); dlspec "
                    "does not load pickled data",
                    hint="save plain numeric arrays: np.savez(path, x=x.astype('float32'), y=y)"
                    ) from error


def _npz_field(x: np.ndarray, path: Path, key: str, n: int | None) -> np.ndarray:
    """An array of per-sample values: float32 (NaN where missing) or int64 (whole numbers)."""
    if x.dtype.kind not in "biuf" or x.ndim == 0 or len(x) == 0:
        raise _fail(f"array '{key}' in {path} must be a non-empty numeric array with one row "
                    f"per sample, got dtype {x.dtype} and shape {x.shape}")
    if n is not None and len(x) != n:
        raise _fail(f"array '{key}' in {path} has {len(x)} rows, but the arrays before it "
                    f"have {n} (one row per sample)")
    if x.dtype.kind in "biu":
        return x.astype(np.int64)
    x = x.astype(np.float32)
    if np.isinf(x).any():
        raise _fail(f"array '{key}' in {path} holds infinite values")
    return x


def _npz_targets(y: np.ndarray, n: int, path: Path, key: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    if y.dtype.kind not in "biufUS" or y.ndim not in (1, 2) or len(y) != n:
        raise _fail(f"array '{key}' in {path} must hold one number or label per sample "
                    f"({n} samples), got dtype {y.dtype} and shape {y.shape}")
    if y.dtype.kind in "US":
        if y.ndim != 1:
            raise _fail(f"array '{key}' in {path}: text labels must be one-dimensional")
        labels = y.astype(str)
        absent = np.array([_is_missing(v) for v in labels], dtype=bool)
        present, names = _encode_labels(labels[~absent])
        codes = np.zeros(n, dtype=np.int64)
        codes[~absent] = present
        return codes, names, absent
    y = y.astype(np.float64)
    if np.isinf(y).any():
        raise _fail(f"array '{key}' in {path} holds infinite values")
    absent = np.isnan(y).reshape(n, -1).any(axis=1)
    return y, [], absent


def load_npz(path: Path, y_key: str = "y", missing: MissingPolicy = "error") -> RawData:
    """Read an .npz archive: the targets from array `y_key`, and every other array as a
    field named by its key (pickled, object arrays are refused).

    Fields keep their shape (n, ...): float32, or int64 when they hold whole numbers; `x`
    is their values flattened side by side (float32), its columns named key + index. Targets
    are numbers (n,) or (n, k), or text labels (n,) whose sorted distinct values become the
    class names.
    """
    path = Path(path)
    _require_file(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise _fail(f"{path} cannot be read as an .npz archive: {error}",
                    hint="save it with np.savez(path, x=features, y=targets)") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise _fail(f"{path} holds a single array, not an .npz archive",
                    hint="save it with np.savez(path, x=features, y=targets)")
    with archive:
        targets = _npz_array(archive, y_key, path)
        fields: dict[str, np.ndarray] = {}
        for key in archive.files:
            if key != y_key:
                n = len(next(iter(fields.values()))) if fields else None
                fields[key] = _npz_field(_npz_array(archive, key, path), path, key, n)
        if not fields:
            raise _fail(f"{path} has no arrays besides the targets '{y_key}'",
                        hint="save the features too: np.savez(path, x=features, y=targets)")
        n = len(next(iter(fields.values())))
        y, class_names, no_target = _npz_targets(targets, n, path, y_key)
    flat = {key: a.reshape(n, -1) for key, a in fields.items()}
    x = np.concatenate([a.astype(np.float32) for a in flat.values()], axis=1)
    names = [f"{key}{j}" for key, a in flat.items() for j in range(a.shape[1])]
    raw = RawData(x, y, names, class_names, fields)
    return resolve_missing(raw, no_target, missing, str(path), y_key,
                           where=lambda i: f"{path}: sample {i}")

"""Reading back what a run folder holds as text: run.json, result.json and its CSV files.

Anything in a run folder may have been edited, truncated or damaged since dlspec wrote it.
Each reader here checks what it reads (JSON syntax, the fields the readers use and their
types, every CSV cell) and reports a damaged file as a TrainError DLS419 naming the file, the
line and column where that is known, and the field. Torch-free.
"""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dlspec.data.files import is_number
from dlspec.errors import Diagnostic, SourceSpan, TrainError

DAMAGED = "DLS419"
MAX_RECORD_BYTES = 1 << 20  # run.json and result.json are a few hundred bytes


class RunJson(BaseModel):
    """run.json: the spec's original path, the run's --set overrides and, once
    `--resume --epochs` extended it, its new number of epochs."""

    model_config = ConfigDict(extra="allow", strict=True)
    spec: str
    overrides: list[str]
    epochs: int = Field(default=1, ge=1)


class ResultJson(BaseModel):
    """result.json, as far as dlspec reads it back."""

    model_config = ConfigDict(extra="allow", strict=True)
    epochs_run: int = Field(default=0, ge=0)


def damaged(path: Path, why: str, line: int = 1, col: int = 1, hint: str | None = None
            ) -> TrainError:
    """The error for a run folder file that is not as dlspec wrote it."""
    return TrainError(Diagnostic(
        DAMAGED, f"{Path(path).name} of the run in {Path(path).parent} is damaged: {why}",
        SourceSpan(str(path), line, col),
        hint=hint or "it was changed since dlspec wrote it; restore it from a backup, or "
                     "train again for a new run"))


def read_run_json(path: Path) -> dict[str, Any]:
    """run.json, checked: {'spec': str, 'overrides': [str, ...]} and 'epochs' (an int >= 1)
    when the run was extended."""
    return _checked(path, _json_object(path), RunJson, hint=(
        'dlspec writes it as {"spec": "<the spec\'s path>", "overrides": ["key=value", ...]}; '
        "restore it from a backup, or train again for a new run"))


def read_result_json(path: Path) -> dict[str, Any]:
    """result.json, checked (a JSON object; `epochs_run` a count when present)."""
    return _checked(path, _json_object(path), ResultJson)


def read_csv_rows(path: Path, until_step: int | None = None,
                  required: tuple[str, ...] = ("step",)) -> list[dict[str, str]]:
    """The rows of a run's CSV file (metrics.csv, grad_norms.csv) as strings, those after
    `until_step` left out. The `required` columns must be there and hold whole numbers;
    every other cell is a number or empty (dlspec writes nothing else)."""
    path = Path(path)
    try:
        _regular(path)
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [c for c in required if c not in columns]
            if missing:
                raise damaged(path, f"it has no {', '.join(repr(c) for c in missing)} column"
                                    + (f" (its header is {','.join(columns)[:200]})"
                                       if columns else " (it is empty)"))
            rows = []
            for row in reader:
                _check_row(path, row, reader.line_num, columns, required)
                rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise damaged(path, f"cannot read it as CSV ({error})") from None
    return [r for r in rows if until_step is None or int(r["step"]) <= until_step]


def _check_row(path: Path, row: dict[str | None, Any], line: int, columns: list[str],
               required: tuple[str, ...]) -> None:
    if None in row:  # more cells than the header has names
        raise damaged(path, f"line {line} has {len(columns) + len(row[None])} cells, the "
                            f"header names {len(columns)}", line)
    for index, column in enumerate(columns):
        cell = row[column]
        if column in required:
            if cell is None or not _is_int(cell):
                raise damaged(path, f"'{column}' on line {line} is {cell!r}, not a whole "
                                    "number", line, index + 1)
        elif cell and not is_number(cell):  # nan too: a diverged epoch
            raise damaged(path, f"'{column}' on line {line} is {cell[:40]!r}, not a number",
                          line, index + 1)


def _is_int(text: str) -> bool:
    stripped = text.strip().lstrip("+-")
    return stripped.isascii() and stripped.isdigit() and len(stripped) <= 18


def _json_object(path: Path) -> dict[str, Any]:
    path = Path(path)
    try:
        _regular(path)
        with open(path, "rb") as handle:
            raw = handle.read(MAX_RECORD_BYTES + 1)
    except OSError as error:
        raise damaged(path, f"cannot read it ({error.strerror or error})") from None
    if len(raw) > MAX_RECORD_BYTES:
        raise damaged(path, f"it is larger than {MAX_RECORD_BYTES >> 20} MiB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise damaged(path, f"it is not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise damaged(path, f"it is not valid JSON ({error.msg})", error.lineno,
                      error.colno) from None
    except RecursionError:
        raise damaged(path, "it is nested too deeply to be what dlspec wrote") from None
    if not isinstance(data, dict):
        raise damaged(path, f"it holds a JSON {type(data).__name__}, not an object")
    return data


def _regular(path: Path) -> None:
    """DLS419 unless `path` is a regular file (a link to /dev/zero would be read without end,
    a FIFO would block the open)."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a device, pipe or socket"
        raise damaged(path, f"it is {kind}, not a regular file")


def _checked(path: Path, data: dict[str, Any], model: type[BaseModel],
             hint: str | None = None) -> dict[str, Any]:
    try:
        model.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "(top level)"
            got = "missing" if item["type"] == "missing" else \
                f"{_shown(item.get('input'))}: {item['msg'].lower()}"
            problems.append(f"'{where}' is {got}")
        raise damaged(path, "; ".join(problems), hint=hint) from None
    return data


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."

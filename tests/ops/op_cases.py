"""The op-test table: for every registered op, seeded random configurations with their input
types and inputs its shape rule must reject (the types are in `harness.py`).

Torch-free on purpose: the table is data, `test_op_table.py` runs it. Each row's generator
gets its own `random.Random` seeded by the op name, so a row's cases do not change when
another row draws more or fewer numbers. Each op family has its rows in a `cases_<family>.py`
module (a `ROWS` dict), gathered here into `TABLE`.
"""

from __future__ import annotations

import importlib
import random
from pathlib import Path

from harness import (
    FLOAT_ONLY,
    SIZES,
    Case,
    Reject,
    Row,
    TensorType,
    concretize,
)

__all__ = ["FLOAT_ONLY", "SIZES", "TABLE", "TensorType", "all_cases", "all_rejects",
           "concretize"]


TABLE: dict[str, Row] = {}  # filled with the ROWS of every cases_<family>.py module


def _gather_families() -> None:
    for path in sorted(Path(__file__).parent.glob("cases_*.py")):
        rows = importlib.import_module(path.stem).ROWS
        twice = sorted(set(rows) & set(TABLE))
        if twice:
            raise RuntimeError(f"{path.name} declares rows that exist already: {twice}")
        TABLE.update(rows)


_gather_families()


def all_cases() -> list[tuple[str, int, Case]]:
    """(op name, index, case) for every row: its seeded random cases, then its fixed ones."""
    out = []
    for name, row in TABLE.items():
        cases = row.cases(random.Random(f"dlspec-op-table:{name}")) + list(row.extra_cases)
        out.extend((name, i, case) for i, case in enumerate(cases))
    return out


def all_rejects() -> list[tuple[str, int, Reject]]:
    return [(name, i, reject) for name, row in TABLE.items()
            for i, reject in enumerate(row.rejects)]

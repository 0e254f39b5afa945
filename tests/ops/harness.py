"""The op-test harness: the types a table row is made of, and helpers shared by the rows.

The rows live in `op_cases.py` (the first ops) and in `cases_<family>.py` modules, each
exporting `ROWS: dict[str, Row]`; `op_cases.TABLE` gathers them all. Torch-free on purpose.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dlspec.analysis.dims import dim_value
from dlspec.ir.types import Dim, TensorType

CASES_PER_OP = 4

# Concrete sizes for the symbolic dims the table uses (distinct primes-ish, so a rule that
# mixes two of them up is caught).
SIZES: dict[str, int] = {"N": 3, "seq": 5, "H": 11, "W": 9, "L": 7}



FLOAT_ONLY = "int64 input to a float-only op"


def T(*shape: Dim, dtype: str = "float32") -> TensorType:
    return TensorType(tuple(shape), dtype)


def concretize(dim: Dim, sizes: dict[str, int] = SIZES) -> int:
    """A dim as a number: ints as they are, names from `sizes`, and the expressions rules
    build from them (`64*seq`, `2*H*W`, `seq+4`, `(H-3)//2+1`) evaluated."""
    return dim_value(dim, sizes)


@dataclass(frozen=True)
class Case:
    """One configuration of an op (as YAML would give it) and its input types."""

    config: dict[str, Any]
    inputs: tuple[TensorType, ...]
    int_high: int = 10  # int64 inputs are drawn from [0, int_high)
    dim_max: dict[str, int] = field(default_factory=dict)  # bounds of symbolic dims (ONNX)


@dataclass(frozen=True)
class Reject:
    """An input (or config) the shape rule must refuse with RuleError `code`."""

    why: str
    config: dict[str, Any]
    inputs: tuple[TensorType, ...]
    code: str = "DLS201"


@dataclass(frozen=True)
class Row:
    """An op's test row. The parameter count and MACs come from the declaration itself
    (`param_count`, `macs`) and are checked against torch, not restated here."""

    cases: Callable[[random.Random], list[Case]]
    rejects: tuple[Reject, ...] = ()
    total: bool = False  # the rule accepts every input (elementwise ops): nothing to reject
    extra_cases: tuple[Case, ...] = field(default=())
    # Why the op cannot be exported to ONNX (the harness checks that export really fails);
    # None: the op's cases are exported and compared with ONNX Runtime.
    not_exportable: str | None = None


def as_pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def int_or_pair(rng: random.Random, low: int, high: int):
    if rng.random() < 0.3:
        return [rng.randint(low, high), rng.randint(low, high)]
    return rng.randint(low, high)


def fitting(rng: random.Random, span: int, pad: int) -> int:
    """A random spatial size a window of `span` with `pad` padding fits into."""
    low = max(1, span - 2 * pad)
    return rng.randint(low, low + 10)


def sample_shape(rng: random.Random, rank: int, symbolic: bool = True) -> list[Dim]:
    """A random per-sample shape of `rank` dims, sometimes with a symbolic `seq` in it."""
    shape: list[Dim] = [rng.randint(1, 6) for _ in range(rank)]
    if symbolic and rank and rng.random() < 0.4:
        shape[rng.randrange(rank)] = "seq"
    return shape


def int_input_reject(name: str, config: dict | None = None, shape: tuple = ("N", 4)) -> Reject:
    return Reject(FLOAT_ONLY, {"op": name, **(config or {})},
                  (T(*shape, dtype="int64"),), code="DLS202")


def elementwise_cases(name: str, attributes: Callable[[random.Random], dict] = lambda rng: {},
                      int64_ok: bool = False) -> Callable[[random.Random], list[Case]]:
    """Cases for a shape-preserving op: ranks 1 to 4 per sample, some with a symbolic dim."""
    def cases(rng: random.Random) -> list[Case]:
        out = [Case({"op": name, **attributes(rng)},
                    (T("N", *sample_shape(rng, rank)),)) for rank in (1, 2, 3, 4)]
        if int64_ok:
            out.append(Case({"op": name, **attributes(rng)}, (T("N", "seq", 4, dtype="int64"),)))
        return out
    return cases

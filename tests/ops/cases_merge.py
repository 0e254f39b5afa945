"""Op-table rows of the ops that combine inputs (dlspec/ops/merge.py)."""

from __future__ import annotations

import random
from collections.abc import Callable

from harness import CASES_PER_OP, Case, Reject, Row, T, sample_shape

from dlspec.ir.types import TensorType


def _with_ones(rng: random.Random, shape: list) -> list:
    """`shape` with some sizes set to 1 (an input that broadcasts against it)."""
    return [1 if rng.random() < 0.5 else size for size in shape]


def broadcast_cases(name: str, counts: tuple[int, ...]) -> Callable[[random.Random], list[Case]]:
    flag = {"broadcast": True} if name == "add" else {}  # add broadcasts when asked to

    def cases(rng: random.Random) -> list[Case]:
        out = [Case({"op": "add"}, (T("N", "seq", 4), T("N", "seq", 4)))] if flag else []
        for i, count in enumerate(counts):
            shape = sample_shape(rng, rng.randint(1, 3))
            dtype = "int64" if i == 2 else "float32"
            inputs = [T("N", *(shape if i % 2 == 0 else _with_ones(rng, shape)), dtype=dtype)
                      for _ in range(count)]
            out.append(Case({"op": name, **(flag if i % 2 else {})}, tuple(inputs)))
        channels = rng.randint(1, 8)  # a squeeze-and-excitation gate
        out.append(Case({"op": name, **flag},
                        (T("N", channels, 1, 1), T("N", channels, "H", "W"))))
        out.append(Case({"op": name, **flag}, (T("N", "seq", 1), T("N", 1, 4))))
        return out
    return cases


def broadcast_rejects(name: str) -> tuple[Reject, ...]:
    return (
        Reject("different shapes", {"op": name}, (T("N", 4), T("N", 5))),
        Reject("different ranks", {"op": name}, (T("N", 4), T("N", 4, 1))),
        Reject("symbolic vs fixed dim", {"op": name}, (T("N", "seq", 4), T("N", 5, 4))),
        Reject("two symbolic dims", {"op": name}, (T("N", "seq", 4), T("N", "L", 4))),
        Reject("different dtypes", {"op": name}, (T("N", 4), T("N", 4, dtype="int64")),
               code="DLS202"),
    )


def concat_cases(rng: random.Random) -> list[Case]:
    cases = []
    for i in range(CASES_PER_OP + 1):
        rank = rng.randint(2, 4)
        axis = rng.randint(1, rank - 1)
        shape = sample_shape(rng, rank - 1, symbolic=False)
        count = rng.randint(2, 3)
        inputs = []
        for j in range(count):
            joined = list(shape)
            # mixes numbers with the symbolic seq along the joined dim: seq+seq -> 2*seq,
            # seq+4 -> seq+4
            joined[axis - 1] = "seq" if (i + j) % 3 == 0 else rng.randint(1, 5)
            inputs.append(T("N", *joined, dtype="int64" if i == 1 else "float32"))
        dim = axis if rng.random() < 0.6 else axis - rank
        cases.append(Case({"op": "concat", "dim": dim}, tuple(inputs)))
    cases.append(Case({"op": "concat", "dim": 1}, (T("N", "seq", 4), T("N", "seq", 4))))
    return cases


def _matrix_pair(rng: random.Random, lead: list, m, k, p, dtype: str = "float32"
                 ) -> tuple[TensorType, TensorType]:
    """(N, *lead, m, k) and (N, *lead, k, p), where either side may have 1 in a lead dim."""
    ones = [rng.randrange(3) for _ in lead]  # 0: no 1; 1: on the left; 2: on the right
    left = [1 if side == 1 else size for side, size in zip(ones, lead, strict=True)]
    right = [1 if side == 2 else size for side, size in zip(ones, lead, strict=True)]
    return T("N", *left, m, k, dtype=dtype), T("N", *right, k, p, dtype=dtype)


def matmul_cases(rng: random.Random) -> list[Case]:
    cases = []
    for i in range(4):
        lead = [rng.randint(1, 4) for _ in range(i % 3)]
        m, k, p = (rng.randint(1, 6) for _ in range(3))
        cases.append(Case({"op": "matmul"}, _matrix_pair(rng, lead, m, k, p,
                                                         "int64" if i == 3 else "float32")))
    cases.append(Case({"op": "matmul"}, (T("N", "seq", 8), T("N", 8, "seq"))))  # q k^T
    cases.append(Case({"op": "matmul"}, (T("N", 4, "seq", "seq"), T("N", 4, "seq", 8))))
    return cases


ROWS: dict[str, Row] = {
    "add": Row(broadcast_cases("add", (2, 3, 2, 4)), rejects=(
        *broadcast_rejects("add"),
        Reject("third input differs", {"op": "add"}, (T("N", 4), T("N", 4), T("N", 2))),
        Reject("a residual path of 1 channel, without broadcast", {"op": "add"},
               (T("N", 1, 8, 8), T("N", 4, 8, 8))),
        Reject("sizes that do not broadcast", {"op": "add", "broadcast": True},
               (T("N", 2, 8), T("N", 4, 8))),
    )),
    "subtract": Row(broadcast_cases("subtract", (2, 2, 2, 2)),
                    rejects=broadcast_rejects("subtract")),
    "multiply": Row(broadcast_cases("multiply", (2, 3, 2, 2)),
                    rejects=broadcast_rejects("multiply")),
    "concat": Row(concat_cases, rejects=(
        Reject("mismatch in a non-joined dim", {"op": "concat", "dim": 1},
               (T("N", 4, 5), T("N", 2, 6))),
        Reject("mismatch in a non-joined dim (negative dim)", {"op": "concat", "dim": -1},
               (T("N", 4, 5), T("N", 3, 5))),
        Reject("different ranks", {"op": "concat"}, (T("N", 4), T("N", 4, 1))),
        Reject("joining along the batch", {"op": "concat", "dim": 0},
               (T("N", 4), T("N", 4)), code="DLS102"),
        Reject("dim out of range", {"op": "concat", "dim": 2}, (T("N", 4), T("N", 4)),
               code="DLS102"),
        Reject("different dtypes", {"op": "concat"}, (T("N", 4), T("N", 4, dtype="int64")),
               code="DLS202"),
    )),
    "matmul": Row(matmul_cases, rejects=(
        Reject("inner sizes differ", {"op": "matmul"}, (T("N", 3, 4), T("N", 5, 2))),
        Reject("inner sizes symbolic and fixed", {"op": "matmul"},
               (T("N", 3, "seq"), T("N", 5, 2))),
        Reject("a vector per sample", {"op": "matmul"}, (T("N", 4), T("N", 4, 2))),
        Reject("ranks differ", {"op": "matmul"}, (T("N", 2, 3, 4), T("N", 4, 2))),
        Reject("leading dims that do not broadcast", {"op": "matmul"},
               (T("N", 2, 3, 4), T("N", 3, 4, 2))),
        Reject("different dtypes", {"op": "matmul"}, (T("N", 3, 4), T("N", 4, 2, dtype="int64")),
               code="DLS202"),
    )),
}

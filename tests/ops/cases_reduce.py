"""Op-table rows of the reductions (dlspec/ops/reduce.py)."""

from __future__ import annotations

import random
from collections.abc import Callable

from harness import Case, Reject, Row, T, int_input_reject, sample_shape


def reduce_cases(name: str) -> Callable[[random.Random], list[Case]]:
    def cases(rng: random.Random) -> list[Case]:
        out = []
        for rank in (2, 3, 4, 3):
            axes = rng.sample(range(1, rank), rng.randint(1, rank - 1))
            dims = [a if rng.random() < 0.6 else a - rank for a in axes]
            config = {"op": name, "dims": dims[0] if len(dims) == 1 and rank % 2 else dims,
                      "keepdim": rng.random() < 0.5}
            out.append(Case(config, (T("N", *sample_shape(rng, rank - 1)),)))
        out.append(Case({"op": name}, (T("N", "seq", 4),)))  # pooling a sequence
        if name == "sum":
            out.append(Case({"op": name, "dims": [2]}, (T("N", 3, "seq", dtype="int64"),)))
        return out
    return cases


def reduce_rejects(name: str) -> tuple[Reject, ...]:
    return (
        Reject("the batch dim", {"op": name, "dims": 0}, (T("N", 4),), code="DLS102"),
        Reject("a dim twice", {"op": name, "dims": [1, -2]}, (T("N", 4, 5),), code="DLS102"),
        Reject("no dim", {"op": name, "dims": []}, (T("N", 4),), code="DLS102"),
        Reject("past the last dim", {"op": name, "dims": [1, 3]}, (T("N", 4, 5),),
               code="DLS102"),
    )


ROWS: dict[str, Row] = {
    "mean": Row(reduce_cases("mean"), rejects=(*reduce_rejects("mean"),
                                                int_input_reject("mean"))),
    "sum": Row(reduce_cases("sum"), rejects=reduce_rejects("sum")),
}

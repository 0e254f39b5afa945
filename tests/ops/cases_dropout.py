"""Op-table rows of dropout (dlspec/ops/dropout.py). The train/eval difference is tested in
test_dropout.py; the table runs the modules in eval mode."""

from __future__ import annotations

import random
from collections.abc import Callable

from harness import Case, Reject, Row, T, elementwise_cases

INT_DROPOUT = "int64 input to dropout (torch fails on it while training)"


def _p(rng: random.Random) -> dict:
    return {"p": round(rng.uniform(0.0, 0.9), 2)}


def _int_reject(name: str, shape: tuple) -> Reject:
    return Reject(INT_DROPOUT, {"op": name}, (T(*shape, dtype="int64"),), code="DLS202")


def channel_cases(name: str, spatial: int) -> Callable[[random.Random], list[Case]]:
    def cases(rng: random.Random) -> list[Case]:
        out = []
        for i in range(4):
            dims = [rng.randint(1, 5) for _ in range(spatial)]
            if i % 2:
                dims[rng.randrange(spatial)] = ("L", "H", "W")[rng.randrange(3)]
            out.append(Case({"op": name, **_p(rng)}, (T("N", rng.randint(1, 6), *dims),)))
        return out
    return cases


def channel_row(name: str, spatial: int) -> Row:
    rank = 2 + spatial
    return Row(channel_cases(name, spatial), rejects=(
        Reject("one dim too few", {"op": name}, (T("N", *[3] * (rank - 2)),)),
        Reject("one dim too many", {"op": name}, (T("N", *[3] * rank),)),
        _int_reject(name, ("N", *[3] * (rank - 1))),
    ))


ROWS: dict[str, Row] = {
    "dropout": Row(elementwise_cases("dropout", _p), rejects=(_int_reject("dropout", ("N", 4)),)),
    "alpha_dropout": Row(elementwise_cases("alpha_dropout", _p),
                         rejects=(_int_reject("alpha_dropout", ("N", 4)),)),
    "dropout1d": channel_row("dropout1d", 1),
    "dropout2d": channel_row("dropout2d", 2),
    "dropout3d": channel_row("dropout3d", 3),
}


ROWS |= {"drop_path": Row(elementwise_cases("drop_path", _p),
                         rejects=(_int_reject("drop_path", ("N", 4)),))}

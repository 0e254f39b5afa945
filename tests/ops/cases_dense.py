"""Op-table rows of the fully connected layers (dlspec/ops/dense.py)."""

from __future__ import annotations

import random

from harness import Case, Reject, Row, T, int_input_reject


def linear_cases(rng: random.Random) -> list[Case]:
    cases = []
    for lead in [(), ("seq",), (rng.randint(2, 4), "seq"), (rng.randint(1, 3),)]:
        fin, fout = rng.randint(1, 32), rng.randint(1, 32)
        config = {"op": "linear", "out_features": fout, "bias": rng.random() < 0.5}
        if rng.random() < 0.5:
            config["in_features"] = fin
        cases.append(Case(config, (T("N", *lead, fin),)))
    return cases


ROWS: dict[str, Row] = {
    "linear": Row(linear_cases, rejects=(
        Reject("symbolic last dim", {"op": "linear", "out_features": 4}, (T("N", "seq"),)),
        Reject("rank-1 input", {"op": "linear", "out_features": 4}, (T("N"),)),
        Reject("in_features disagrees with the input",
               {"op": "linear", "out_features": 4, "in_features": 8}, (T("N", 6),)),
        int_input_reject("linear", {"out_features": 4}),
    )),
}

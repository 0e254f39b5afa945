"""Op-table rows of scale and layer_scale (dlspec/ops/scaling.py)."""

from __future__ import annotations

import random

from harness import Case, Reject, Row, T, elementwise_cases, int_input_reject, sample_shape


def layer_scale_cases(rng: random.Random) -> list[Case]:
    out = []
    for rank, dim in [(4, 1), (3, -1), (2, 1), (4, -1), (4, 2)]:
        shape = sample_shape(rng, rank - 1, symbolic=False)
        if rank > 2 and dim in (1, 2):
            shape[-1] = "seq"  # a symbolic size after the channels broadcasts
        out.append(Case({"op": "layer_scale", "dim": dim,
                         "init_value": rng.choice([1e-6, 0.1, 1.0])}, (T("N", *shape),)))
    return out


ROWS: dict[str, Row] = {
    "scale": Row(elementwise_cases("scale", lambda rng: {"factor": rng.uniform(-3, 3)}),
                 rejects=(int_input_reject("scale", {"factor": 2.0}),)),
    "layer_scale": Row(layer_scale_cases, rejects=(
        Reject("symbolic channels", {"op": "layer_scale", "dim": -1}, (T("N", 4, "seq"),)),
        Reject("the batch as channels", {"op": "layer_scale", "dim": 0}, (T("N", 4),),
               code="DLS102"),
        int_input_reject("layer_scale", shape=("N", 4, 2)),
    )),
}

"""Op-table rows of the masks derived in the graph (padding_mask). Ids are drawn from [0, 4),
so every case has padded and real tokens whatever its pad id."""

from __future__ import annotations

import random

from harness import Case, Reject, Row, T


def padding_mask_cases(rng: random.Random) -> list[Case]:
    shapes = [("N", "seq"), ("N", rng.randint(1, 6)), ("N", "seq", rng.randint(1, 3))]
    cases = [Case({"op": "padding_mask", "pad": rng.randint(0, 3)}, (T(*shape, dtype="int64"),),
                  int_high=4) for shape in shapes]
    return [Case({"op": "padding_mask"}, (T("N", "seq", dtype="int64"),), int_high=4), *cases]


ROWS: dict[str, Row] = {
    "padding_mask": Row(padding_mask_cases, rejects=(
        Reject("float input (embeddings, not ids)", {"op": "padding_mask"},
               (T("N", "seq", 8),), code="DLS202"),
        Reject("one id per sample, no sequence", {"op": "padding_mask"},
               (T("N", dtype="int64"),)),
    )),
}

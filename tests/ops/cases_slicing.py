"""Op-table rows of slice and split (dlspec/ops/slicing.py)."""

from __future__ import annotations

import random

from harness import Case, Reject, Row, T

from dlspec.ir.types import Dim


def slice_cases(rng: random.Random) -> list[Case]:
    cases = []
    for i in range(6):
        size: Dim = rng.randint(2, 9)
        start = rng.choice([None, rng.randint(0, size - 1), -rng.randint(1, size)])
        end = rng.choice([None, rng.randint(1, size), -rng.randint(1, size - 1)])
        if len(range(size)[start:end]) == 0:
            start, end = None, None
        config = {"op": "slice", "dim": 1 if i % 2 else -2, "start": start, "end": end,
                  "step": rng.randint(1, 3)}
        cases.append(Case(config, (T("N", size, rng.randint(1, 4)),)))
    return cases


SYMBOLIC_SLICES = (  # seq is 5 in the table, 16 and more in the ONNX check
    Case({"op": "slice", "start": 1, "step": 2}, (T("N", "seq", 3),)),  # (seq-1-1)//2+1
    Case({"op": "slice", "dim": 2, "start": -1}, (T("N", 4, "seq"),)),  # the last step: 1
    Case({"op": "slice", "start": 1, "end": -2}, (T("N", "seq"),)),  # seq-3
    Case({"op": "slice", "start": -4, "end": -1, "step": 2}, (T("N", "seq", 2),)),  # 2
    Case({"op": "slice", "start": 1, "end": 3}, (T("N", "seq", 2, dtype="int64"),)),  # 2
)


def split_cases(rng: random.Random) -> list[Case]:
    cases = []
    for i in range(4):
        chunks = rng.randint(2, 4)
        config = {"op": "split", "dim": 2 if i % 2 else -1, "chunks": chunks,
                  "index": rng.randrange(chunks)}
        cases.append(Case(config, (T("N", "seq", chunks * rng.randint(1, 3)),)))
    for _ in range(4):
        sizes = [rng.randint(1, 4) for _ in range(rng.randint(2, 4))]
        total = sum(sizes)
        if rng.random() < 0.5:
            sizes[rng.randrange(len(sizes))] = -1
        config = {"op": "split", "dim": 1, "sizes": sizes, "index": rng.randrange(len(sizes))}
        cases.append(Case(config, (T("N", total, 2),)))
    return cases


SYMBOLIC_SPLITS = (  # seq is 5 in the table
    Case({"op": "split", "sizes": [1, -1, 2], "index": 1}, (T("N", "seq", 3),)),  # seq-3
    Case({"op": "split", "sizes": [1, -1, 2], "index": 2}, (T("N", "seq", 3),)),  # 2
    Case({"op": "split", "sizes": [-1, 2], "index": 0}, (T("N", "seq"),)),  # seq-2
    Case({"op": "split", "chunks": 2, "index": 1}, (T("N", "2*seq", 3),)),  # seq
)


ROWS: dict[str, Row] = {
    "slice": Row(slice_cases, extra_cases=SYMBOLIC_SLICES, rejects=(
        Reject("an empty part", {"op": "slice", "start": 3, "end": 3}, (T("N", 5),)),
        Reject("starting past the end", {"op": "slice", "start": 6}, (T("N", 5),)),
        Reject("the batch dim", {"op": "slice", "dim": 0, "start": 1}, (T("N", 5),),
               code="DLS102"),
        Reject("from the end to a position from the start of a symbolic dim",
               {"op": "slice", "start": -3, "end": 2}, (T("N", "seq"),)),
        Reject("an empty part of a symbolic dim", {"op": "slice", "start": -1, "end": -2},
               (T("N", "seq"),)),
    )),
    "split": Row(split_cases, extra_cases=SYMBOLIC_SPLITS, rejects=(
        Reject("chunks that do not divide", {"op": "split", "chunks": 3}, (T("N", 5),)),
        Reject("chunks of a symbolic dim", {"op": "split", "chunks": 2}, (T("N", "seq"),)),
        Reject("sizes that do not add up", {"op": "split", "sizes": [2, 2]}, (T("N", 5),)),
        Reject("fixed sizes for a symbolic dim", {"op": "split", "sizes": [2, 3]},
               (T("N", "seq"),)),
        Reject("nothing left for the -1 piece", {"op": "split", "sizes": [2, -1, 3]},
               (T("N", 5),)),
        Reject("the batch dim", {"op": "split", "dim": 0, "chunks": 2}, (T("N", 4),),
               code="DLS102"),
    )),
}

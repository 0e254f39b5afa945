"""Op-table rows of the rearranging ops (dlspec/ops/shape.py)."""

from __future__ import annotations

import math
import random

from harness import CASES_PER_OP, Case, Reject, Row, T, sample_shape


def _signed(rng: random.Random, dim: int, rank: int) -> int:
    """`dim` as given, or counted from the end."""
    return dim if rng.random() < 0.6 else dim - rank


def identity_cases(rng: random.Random) -> list[Case]:
    return [Case({"op": "identity"}, (T("N", *sample_shape(rng, rank), dtype=dtype),))
            for rank, dtype in [(1, "float32"), (3, "float32"), (2, "int64"), (0, "float32")]]


def flatten_cases(rng: random.Random) -> list[Case]:
    cases = []
    for rank in (2, 3, 4, 5, 4):
        start = rng.randint(1, rank - 1)
        end = rng.randint(start, rank - 1)
        config = {"op": "flatten", "start_dim": _signed(rng, start, rank),
                  "end_dim": end if rng.random() < 0.5 else end - rank}
        cases.append(Case(config, (T("N", *sample_shape(rng, rank - 1)),)))
    cases.append(Case({"op": "flatten"}, (T("N", 64, "seq"),)))  # -> 64*seq
    cases.append(Case({"op": "flatten"}, (T("N", 3, "H", "W", dtype="int64"),)))
    return cases


def _factor(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` split into `parts` random positive factors."""
    shape = []
    for _ in range(parts - 1):
        divisor = rng.choice([d for d in range(1, total + 1) if total % d == 0])
        shape.append(divisor)
        total //= divisor
    return [*shape, total]


def reshape_cases(rng: random.Random) -> list[Case]:
    cases = []
    for i in range(CASES_PER_OP):
        sample = [rng.randint(1, 6) for _ in range(i % 3 + 1)]
        target = _factor(rng, math.prod(sample), (i + 1) % 3 + 1)
        if rng.random() < 0.5:
            target[rng.randrange(len(target))] = -1
        cases.append(Case({"op": "reshape", "shape": target}, (T("N", *sample),)))
    # symbolic: (seq, 16) has 16*seq elements; [-1, 4] -> (4*seq, 4)
    cases.append(Case({"op": "reshape", "shape": [-1, 4]}, (T("N", "seq", 16),)))
    cases.append(Case({"op": "reshape", "shape": [2, -1]}, (T("N", 8, "seq", dtype="int64"),)))
    return cases


def permute_cases(rng: random.Random) -> list[Case]:
    cases = []
    for rank in (3, 4, 5, 4):
        order = list(range(1, rank))
        rng.shuffle(order)
        dims = [_signed(rng, d, rank) for d in order]
        cases.append(Case({"op": "permute", "dims": dims}, (T("N", *sample_shape(rng, rank - 1)),)))
    cases.append(Case({"op": "permute", "dims": [2, 3, 1]}, (T("N", 3, "H", "W"),)))
    return cases


def transpose_cases(rng: random.Random) -> list[Case]:
    cases = []
    for rank in (3, 4, 5, 3):
        a, b = rng.sample(range(1, rank), 2)
        config = {"op": "transpose", "dim0": _signed(rng, a, rank), "dim1": _signed(rng, b, rank)}
        cases.append(Case(config, (T("N", *sample_shape(rng, rank - 1)),)))
    cases.append(Case({"op": "transpose"}, (T("N", "seq", 8, dtype="int64"),)))
    return cases


def squeeze_cases(rng: random.Random) -> list[Case]:
    cases = []
    for rank in (2, 3, 4, 3):
        shape = sample_shape(rng, rank - 1)
        dim = rng.randint(1, rank - 1)
        shape[dim - 1] = 1
        cases.append(Case({"op": "squeeze", "dim": _signed(rng, dim, rank)}, (T("N", *shape),)))
    return cases


def unsqueeze_cases(rng: random.Random) -> list[Case]:
    cases = []
    for rank in (1, 2, 3, 4):
        dim = rng.randint(1, rank)  # a dim of the result, which has rank + 1 dims
        cases.append(Case({"op": "unsqueeze", "dim": _signed(rng, dim, rank + 1)},
                          (T("N", *sample_shape(rng, rank - 1)),)))
    return cases


def _bad_dims(name: str, key: str, rank: int = 3) -> tuple[Reject, ...]:
    shape = T("N", *[4] * (rank - 1))
    return (
        Reject("the batch dim", {"op": name, key: 0}, (shape,), code="DLS102"),
        Reject("past the last dim", {"op": name, key: rank + 1}, (shape,), code="DLS102"),
        Reject("negative, out of range", {"op": name, key: -rank - 2}, (shape,), code="DLS102"),
    )


ROWS: dict[str, Row] = {
    "identity": Row(identity_cases, total=True),
    "flatten": Row(flatten_cases, rejects=(
        Reject("end before start", {"op": "flatten", "start_dim": 2, "end_dim": 1},
               (T("N", 3, 4, 5),), code="DLS102"),
        Reject("negative end before start", {"op": "flatten", "start_dim": 3, "end_dim": -2},
               (T("N", 3, 4, 5),), code="DLS102"),
        Reject("start at the batch dim", {"op": "flatten", "start_dim": 0},
               (T("N", 3, 4),), code="DLS102"),
        Reject("end out of range", {"op": "flatten", "end_dim": 3}, (T("N", 3, 4),),
               code="DLS102"),
    )),
    "reshape": Row(reshape_cases, rejects=(
        Reject("wrong element count", {"op": "reshape", "shape": [4, 4]}, (T("N", 3, 5),)),
        Reject("-1 entry that does not divide", {"op": "reshape", "shape": [-1, 4]},
               (T("N", 3, 5),)),
        Reject("fixed shape for a symbolic sample", {"op": "reshape", "shape": [16]},
               (T("N", "seq", 16),)),
        Reject("-1 entry that does not divide a symbolic sample",
               {"op": "reshape", "shape": [-1, 3]}, (T("N", "seq", 16),)),
    )),
    "permute": Row(permute_cases, rejects=(
        Reject("lists the batch", {"op": "permute", "dims": [0, 2, 1]}, (T("N", 3, 4),),
               code="DLS102"),
        Reject("a dim twice", {"op": "permute", "dims": [1, 1]}, (T("N", 3, 4),),
               code="DLS102"),
        Reject("a dim left out", {"op": "permute", "dims": [2, 1]}, (T("N", 3, 4, 5),),
               code="DLS102"),
        Reject("a dim out of range", {"op": "permute", "dims": [1, 3]}, (T("N", 3, 4),),
               code="DLS102"),
    )),
    "transpose": Row(transpose_cases, rejects=_bad_dims("transpose", "dim0")),
    "squeeze": Row(squeeze_cases, rejects=(
        Reject("a dim of size 4", {"op": "squeeze", "dim": 1}, (T("N", 4, 1),)),
        Reject("a symbolic dim (maybe not 1)", {"op": "squeeze", "dim": -1}, (T("N", 4, "seq"),)),
        *_bad_dims("squeeze", "dim"),
    )),
    "unsqueeze": Row(unsqueeze_cases, rejects=_bad_dims("unsqueeze", "dim", rank=2)),
}


# --- roll, tile, repeat, expand ----------------------------------------------------------

def roll_cases(rng: random.Random) -> list[Case]:
    out = []
    for rank in (1, 2, 3, 3):
        dims = rng.sample(range(1, rank + 1), rng.randint(1, rank))
        shifts = [rng.randint(-7, 7) for _ in dims]
        config = {"op": "roll", "dims": dims,
                  "shifts": shifts if len(dims) > 1 or rng.random() < 0.5 else shifts[0]}
        out.append(Case(config, (T("N", *sample_shape(rng, rank)),)))
    out.append(Case({"op": "roll", "shifts": -3, "dims": [1, 2]}, (T("N", 7, 7, 4),)))
    return out


def tile_cases(rng: random.Random) -> list[Case]:
    return [Case({"op": "tile", "reps": [rng.randint(1, 3) for _ in range(rank)]},
                 (T("N", *sample_shape(rng, rank)),)) for rank in (1, 2, 3, 3)]


def repeat_cases(rng: random.Random) -> list[Case]:
    out = []
    for rank in (1, 2, 3, 4):
        dim = rng.randint(1, rank)
        out.append(Case({"op": "repeat", "repeats": rng.randint(1, 3),
                         "dim": _signed(rng, dim, rank + 1)},
                        (T("N", *sample_shape(rng, rank)),)))
    return out


def expand_cases(rng: random.Random) -> list[Case]:
    out = []
    for rank in (1, 2, 3, 3):
        shape = sample_shape(rng, rank)
        target = []
        for i, size in enumerate(shape):
            if rng.random() < 0.5:
                shape[i], size = 1, rng.randint(1, 4)
                target.append(size)
            else:
                target.append(-1 if rng.random() < 0.7 or not isinstance(size, int) else size)
        out.append(Case({"op": "expand", "shape": target}, (T("N", *shape),)))
    return out


ROWS |= {
    "roll": Row(roll_cases, rejects=(
        Reject("rolling the batch", {"op": "roll", "shifts": 1, "dims": [0]}, (T("N", 4),),
               code="DLS102"),
        Reject("two shifts for one dim", {"op": "roll", "shifts": [1, 2], "dims": [1]},
               (T("N", 4),), code="DLS102"),
        Reject("one dim twice", {"op": "roll", "shifts": 1, "dims": [1, -1]}, (T("N", 4),),
               code="DLS102"),
    )),
    "tile": Row(tile_cases, rejects=(
        Reject("reps for another rank", {"op": "tile", "reps": [2]}, (T("N", 4, 4),),
               code="DLS102"),
    )),
    "repeat": Row(repeat_cases, rejects=(
        Reject("repeating the batch", {"op": "repeat", "repeats": 2, "dim": 0},
               (T("N", 4),), code="DLS102"),
    )),
    "expand": Row(expand_cases, rejects=(
        Reject("growing a size that is not 1", {"op": "expand", "shape": [4, -1]},
               (T("N", 2, 3),)),
        Reject("entries for another rank", {"op": "expand", "shape": [4]},
               (T("N", 1, 3),), code="DLS102"),
    )),
}

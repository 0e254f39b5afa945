"""The op-test table: for every registered op, seeded random configurations with their input
types and inputs its shape rule must reject (the types are in `harness.py`).

Torch-free on purpose: the table is data, `test_op_table.py` runs it. Each row's generator
gets its own `random.Random` seeded by the op name, so a row's cases do not change when
another row draws more or fewer numbers. This module holds the first ops' rows; each op family
adds its rows in a `cases_<family>.py` module (a `ROWS` dict), gathered here into `TABLE`.
"""

from __future__ import annotations

import importlib
import math
import random
from collections.abc import Callable
from pathlib import Path

from harness import (
    CASES_PER_OP,
    FLOAT_ONLY,
    SIZES,
    Case,
    Reject,
    Row,
    T,
    TensorType,
    fitting,
    int_or_pair,
    as_pair,
    sample_shape,
    concretize,
    elementwise_cases,
    int_input_reject,
)

from dlspec.ir.types import Dim

__all__ = ["FLOAT_ONLY", "SIZES", "TABLE", "TensorType", "all_cases", "all_rejects",
           "concretize"]


# --- dense ------------------------------------------------------------------------------


def linear_cases(rng: random.Random) -> list[Case]:
    cases = []
    for lead in [(), ("seq",), (rng.randint(2, 4), "seq"), (rng.randint(1, 3),)]:
        fin, fout = rng.randint(1, 32), rng.randint(1, 32)
        config = {"op": "linear", "out_features": fout, "bias": rng.random() < 0.5}
        if rng.random() < 0.5:
            config["in_features"] = fin
        cases.append(Case(config, (T("N", *lead, fin),)))
    return cases


# --- conv -------------------------------------------------------------------------------


def conv2d_cases(rng: random.Random) -> list[Case]:
    cases = []
    paddings = [lambda: rng.randint(0, 2), lambda: [rng.randint(0, 2), rng.randint(0, 2)],
                lambda: "same", lambda: "valid"]
    for i in range(2 * CASES_PER_OP):
        groups = rng.choice([1, 1, 2, 3, 4])
        cin, cout = groups * rng.randint(1, 4), groups * rng.randint(1, 4)
        kernel = int_or_pair(rng, 1, 5)
        dilation = int_or_pair(rng, 1, 2)
        padding = paddings[i % len(paddings)]()  # every kind of padding, random values
        stride = 1 if padding == "same" else int_or_pair(rng, 1, 3)
        config = {"op": "conv2d", "out_channels": cout, "kernel_size": kernel, "stride": stride,
                  "padding": padding, "dilation": dilation, "groups": groups,
                  "bias": rng.random() < 0.5}
        if i % 3 == 0:
            config["in_channels"] = cin
        if i % 3 == 1:  # symbolic H, W: SIZES has room for the largest window (5, dilation 2)
            spatial: tuple[Dim, ...] = ("H", "W")
        else:
            pads = (0, 0) if isinstance(padding, str) else as_pair(padding)
            spatial = tuple(fitting(rng, d * (k - 1) + 1, p) for k, d, p in
                            zip(as_pair(kernel), as_pair(dilation), pads, strict=True))
        cases.append(Case(config, (T("N", cin, *spatial),)))
    return cases


def pool_cases(name: str) -> Callable[[random.Random], list[Case]]:
    def cases(rng: random.Random) -> list[Case]:
        out = []
        for i in range(CASES_PER_OP + 2):
            kernel = int_or_pair(rng, 1, 4)
            padding = [rng.randint(0, k // 2) for k in as_pair(kernel)]  # torch allows k // 2
            if rng.random() < 0.5:
                padding = min(padding)
            config = {"op": name, "kernel_size": kernel,
                      "stride": rng.choice([None, int_or_pair(rng, 1, 3)]),
                      "padding": padding, "ceil_mode": rng.random() < 0.5}
            if name == "avgpool2d":
                config["count_include_pad"] = rng.random() < 0.5
            if i % 3 == 2:  # symbolic H, W (floor mode: the ceil rule is a known bug, below)
                config["ceil_mode"] = False
                spatial: tuple[Dim, ...] = ("H", "W")
            else:
                spatial = tuple(fitting(rng, k, p) for k, p in
                                zip(as_pair(kernel), as_pair(padding), strict=True))
            out.append(Case(config, (T("N", rng.randint(1, 4), *spatial),)))
        if name == "maxpool2d":  # pooling keeps the dtype; max over ids is well defined
            out.append(Case({"op": name, "kernel_size": 2}, (T("N", 2, 6, 5, dtype="int64"),)))
        return out
    return cases


POOL_CEIL_SYMBOLIC = (
    # H=11: torch gives ceil((11-2)/2)+1 = 6 (a floor formula would say 5)
    Case({"op": "maxpool2d", "kernel_size": 2, "ceil_mode": True}, (T("N", 3, "H", 8),)),
)


def pool_rejects(name: str) -> tuple[Reject, ...]:
    return (
        Reject("window larger than the input", {"op": name, "kernel_size": 5},
               (T("N", 1, 3, 8),)),
        Reject("window larger than the input in W only", {"op": name, "kernel_size": [2, 4]},
               (T("N", 1, 8, 3),)),
        Reject("padding more than half the window", {"op": name, "kernel_size": 2,
                                                     "padding": 2}, (T("N", 1, 8, 8),)),
        Reject("rank-3 input", {"op": name, "kernel_size": 2}, (T("N", 4, 8),)),
    )


def global_pool_cases(rng: random.Random) -> list[Case]:
    return [Case({"op": "global_avg_pool2d"}, (T("N", rng.randint(1, 16), *spatial),))
            for spatial in [(rng.randint(1, 9), rng.randint(1, 9)), ("H", "W"), (1, 1)]]


# --- activations ------------------------------------------------------------------------


def softmax_cases(rng: random.Random) -> list[Case]:
    cases = []
    for rank in (2, 3, 4, 4):
        dim = rng.choice([d for d in range(-(rank - 1), rank) if d != 0])
        cases.append(Case({"op": "softmax", "dim": dim}, (T("N", *sample_shape(rng, rank - 1)),)))
    return cases


# --- norm -------------------------------------------------------------------------------


def _norm_config(rng: random.Random, name: str) -> dict:
    return {"op": name, "eps": rng.choice([1e-5, 1e-3, 0.1]),
            "momentum": rng.choice([0.1, 0.01, 0.5, 1.0]), "affine": rng.random() < 0.6}


def batchnorm1d_cases(rng: random.Random) -> list[Case]:
    return [Case(_norm_config(rng, "batchnorm1d"), (T("N", rng.randint(1, 16), *rest),))
            for rest in [(), (rng.randint(1, 9),), ("seq",), ()]]


def batchnorm2d_cases(rng: random.Random) -> list[Case]:
    return [Case(_norm_config(rng, "batchnorm2d"), (T("N", rng.randint(1, 16), *spatial),))
            for spatial in [(rng.randint(1, 9), rng.randint(1, 9)), ("H", "W"),
                            (rng.randint(1, 9), rng.randint(1, 9)), (1, 1)]]


def layernorm_cases(rng: random.Random) -> list[Case]:
    cases = []
    for rank in (2, 3, 4, 4, 3):
        dims = rng.randint(1, rank - 1)
        lead = sample_shape(rng, rank - 1 - dims)  # may hold the symbolic seq
        normalized = [rng.randint(1, 8) for _ in range(dims)]
        config = {"op": "layernorm", "dims": dims, "eps": rng.choice([1e-5, 1e-6]),
                  "elementwise_affine": rng.random() < 0.7, "bias": rng.random() < 0.5}
        cases.append(Case(config, (T("N", *lead, *normalized),)))
    return cases


# --- shape ------------------------------------------------------------------------------


def flatten_cases(rng: random.Random) -> list[Case]:
    cases = []
    for rank in (2, 3, 4, 5, 4):
        start = rng.randint(1, rank - 1)
        end = rng.randint(start, rank - 1)
        config = {"op": "flatten",
                  "start_dim": start if rng.random() < 0.7 else start - rank,
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


# --- merge ------------------------------------------------------------------------------


def add_cases(rng: random.Random) -> list[Case]:
    cases = []
    for count, dtype in [(2, "float32"), (3, "float32"), (2, "int64"), (4, "float32")]:
        shape = sample_shape(rng, rng.randint(1, 3))
        cases.append(Case({"op": "add"}, tuple(T("N", *shape, dtype=dtype)
                                               for _ in range(count))))
    return cases


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


# --- embedding --------------------------------------------------------------------------


def embedding_cases(rng: random.Random) -> list[Case]:
    cases = []
    for ids_shape in [("N",), ("N", "seq"), ("N", rng.randint(1, 4), "seq"), ("N", 7)]:
        num, dim = rng.randint(1, 100), rng.randint(1, 32)
        config = {"op": "embedding", "num_embeddings": num, "embedding_dim": dim}
        if rng.random() < 0.5:
            config["padding_idx"] = rng.randrange(num)
        cases.append(Case(config, (T(*ids_shape, dtype="int64"),), int_high=num))
    return cases


# --- the table --------------------------------------------------------------------------

TABLE: dict[str, Row] = {  # the first ops; families add theirs in cases_*.py
    "linear": Row(linear_cases, rejects=(
        Reject("symbolic last dim", {"op": "linear", "out_features": 4}, (T("N", "seq"),)),
        Reject("rank-1 input", {"op": "linear", "out_features": 4}, (T("N"),)),
        Reject("in_features disagrees with the input",
               {"op": "linear", "out_features": 4, "in_features": 8}, (T("N", 6),)),
        int_input_reject("linear", {"out_features": 4}),
    )),
    "conv2d": Row(conv2d_cases, extra_cases=(
        # 'same' with an even kernel: torch pads one more on one side, the size is kept
        Case({"op": "conv2d", "out_channels": 5, "kernel_size": [4, 2], "padding": "same"},
             (T("N", 2, 7, "W"),)),
    ), rejects=(
        Reject("rank-3 input", {"op": "conv2d", "out_channels": 4, "kernel_size": 3},
               (T("N", 3, 8),)),
        Reject("rank-5 input", {"op": "conv2d", "out_channels": 4, "kernel_size": 3},
               (T("N", 3, 8, 8, 8),)),
        Reject("channels not divisible by groups",
               {"op": "conv2d", "out_channels": 4, "kernel_size": 3, "groups": 2},
               (T("N", 3, 8, 8),)),
        Reject("symbolic channels", {"op": "conv2d", "out_channels": 4, "kernel_size": 3},
               (T("N", "C", 8, 8),)),
        Reject("kernel larger than the input",
               {"op": "conv2d", "out_channels": 4, "kernel_size": 5}, (T("N", 3, 8, 4),)),
        Reject("dilated kernel larger than the padded input",
               {"op": "conv2d", "out_channels": 4, "kernel_size": 3, "dilation": 4,
                "padding": 1}, (T("N", 3, 6, 6),)),
        Reject("in_channels disagrees with the input",
               {"op": "conv2d", "out_channels": 4, "kernel_size": 1, "in_channels": 4},
               (T("N", 3, 8, 8),)),
        int_input_reject("conv2d", {"out_channels": 2, "kernel_size": 1}, ("N", 3, 4, 4)),
    )),
    "maxpool2d": Row(pool_cases("maxpool2d"), rejects=pool_rejects("maxpool2d"),
                     extra_cases=POOL_CEIL_SYMBOLIC),
    "avgpool2d": Row(pool_cases("avgpool2d"), rejects=pool_rejects("avgpool2d")),
    "global_avg_pool2d": Row(global_pool_cases, rejects=(
        Reject("rank-2 input", {"op": "global_avg_pool2d"}, (T("N", 8),)),
        Reject("rank-3 input", {"op": "global_avg_pool2d"}, (T("N", 8, 8),)),
        int_input_reject("global_avg_pool2d", shape=("N", 3, 4, 4)),
    )),
    "relu": Row(elementwise_cases("relu", int64_ok=True), total=True),
    "leaky_relu": Row(elementwise_cases(
        "leaky_relu", lambda rng: {"negative_slope": round(rng.uniform(0.0, 0.5), 3)}),
        rejects=(int_input_reject("leaky_relu"),)),
    "sigmoid": Row(elementwise_cases("sigmoid"), rejects=(int_input_reject("sigmoid"),)),
    "tanh": Row(elementwise_cases("tanh"), rejects=(int_input_reject("tanh"),)),
    "gelu": Row(elementwise_cases("gelu", lambda rng: {
        "approximate": rng.choice(["none", "tanh"])}), rejects=(int_input_reject("gelu"),)),
    "silu": Row(elementwise_cases("silu"), rejects=(int_input_reject("silu"),)),
    "softmax": Row(softmax_cases, rejects=(
        Reject("dim 0 (the batch)", {"op": "softmax", "dim": 0}, (T("N", 4),), code="DLS102"),
        Reject("dim past the last", {"op": "softmax", "dim": 3}, (T("N", 4, 5),),
               code="DLS102"),
        Reject("negative dim reaching the batch", {"op": "softmax", "dim": -3},
               (T("N", 4, 5),), code="DLS102"),
        Reject("negative dim out of range", {"op": "softmax", "dim": -4}, (T("N", 4, 5),),
               code="DLS102"),
        int_input_reject("softmax"),
    )),
    "dropout": Row(elementwise_cases(
        "dropout", lambda rng: {"p": round(rng.uniform(0.0, 0.9), 2)}, int64_ok=True),
        total=True),
    "batchnorm1d": Row(batchnorm1d_cases, rejects=(
        Reject("rank-4 input", {"op": "batchnorm1d"}, (T("N", 3, 4, 4),)),
        Reject("rank-1 input", {"op": "batchnorm1d"}, (T("N"),)),
        Reject("symbolic channels", {"op": "batchnorm1d"}, (T("N", "seq", 4),)),
        int_input_reject("batchnorm1d"),
    )),
    "batchnorm2d": Row(batchnorm2d_cases, rejects=(
        Reject("rank-3 input", {"op": "batchnorm2d"}, (T("N", 3, 4),)),
        Reject("symbolic channels", {"op": "batchnorm2d"}, (T("N", "C", 4, 4),)),
        int_input_reject("batchnorm2d", shape=("N", 3, 4, 4)),
    )),
    "layernorm": Row(layernorm_cases, rejects=(
        Reject("normalizing over the batch too", {"op": "layernorm", "dims": 2}, (T("N", 8),),
               code="DLS102"),
        Reject("symbolic normalized dim", {"op": "layernorm"}, (T("N", 4, "seq"),)),
        Reject("symbolic dim among several normalized", {"op": "layernorm", "dims": 2},
               (T("N", "seq", 8),)),
        int_input_reject("layernorm"),
    )),
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
    "add": Row(add_cases, rejects=(
        Reject("different shapes", {"op": "add"}, (T("N", 4), T("N", 5))),
        Reject("different ranks", {"op": "add"}, (T("N", 4), T("N", 4, 1))),
        Reject("symbolic vs fixed dim", {"op": "add"}, (T("N", "seq", 4), T("N", 5, 4))),
        Reject("third input differs", {"op": "add"}, (T("N", 4), T("N", 4), T("N", 2))),
        Reject("different dtypes", {"op": "add"}, (T("N", 4), T("N", 4, dtype="int64")),
               code="DLS202"),
    )),
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
    "embedding": Row(embedding_cases, rejects=(
        Reject("float ids", {"op": "embedding", "num_embeddings": 10, "embedding_dim": 4},
               (T("N", "seq"),), code="DLS202"),
    )),
}


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

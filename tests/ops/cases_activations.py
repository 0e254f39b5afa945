"""Op-table rows of the activations (dlspec/ops/activations.py)."""

from __future__ import annotations

import random
from collections.abc import Callable

from harness import Case, Reject, Row, T, elementwise_cases, int_input_reject, sample_shape


def _float_row(name: str, attributes: Callable[[random.Random], dict] = lambda rng: {}) -> Row:
    """An elementwise activation of float tensors: random ranks, int64 refused."""
    return Row(elementwise_cases(name, attributes), rejects=(int_input_reject(name),))


def _uniform(low: float, high: float) -> Callable[[random.Random], float]:
    return lambda rng: round(rng.uniform(low, high), 3)


def along_dim_cases(name: str) -> Callable[[random.Random], list[Case]]:
    def cases(rng: random.Random) -> list[Case]:
        out = []
        for rank in (2, 3, 4, 4):
            dim = rng.choice([d for d in range(-(rank - 1), rank) if d != 0])
            out.append(Case({"op": name, "dim": dim}, (T("N", *sample_shape(rng, rank - 1)),)))
        return out
    return cases


def along_dim_rejects(name: str) -> tuple[Reject, ...]:
    return (
        Reject("dim 0 (the batch)", {"op": name, "dim": 0}, (T("N", 4),), code="DLS102"),
        Reject("dim past the last", {"op": name, "dim": 3}, (T("N", 4, 5),), code="DLS102"),
        Reject("negative dim reaching the batch", {"op": name, "dim": -3}, (T("N", 4, 5),),
               code="DLS102"),
        Reject("negative dim out of range", {"op": name, "dim": -4}, (T("N", 4, 5),),
               code="DLS102"),
        int_input_reject(name),
    )


def prelu_cases(rng: random.Random) -> list[Case]:
    cases = []
    for i, rank in enumerate((1, 2, 3, 4, 2)):
        config = {"op": "prelu", "per_channel": i % 2 == 1, "initial_slope": _uniform(0.0, 0.5)(rng)}
        channels = rng.randint(1, 6)
        rest = sample_shape(rng, rank - 1)  # the channel dim stays fixed
        cases.append(Case(config, (T("N", channels, *rest),)))
    return cases


def hardtanh_attributes(rng: random.Random) -> dict:
    low = _uniform(-3.0, 0.0)(rng)
    return {"min_val": low, "max_val": round(low + rng.uniform(0.1, 4.0), 3)}


ROWS: dict[str, Row] = {
    "relu": Row(elementwise_cases("relu", int64_ok=True), total=True),
    "relu6": Row(elementwise_cases("relu6", int64_ok=True), total=True),
    "hardtanh": Row(elementwise_cases("hardtanh", hardtanh_attributes, int64_ok=True),
                    total=True),
    "leaky_relu": _float_row("leaky_relu",
                             lambda rng: {"negative_slope": _uniform(0.0, 0.5)(rng)}),
    "prelu": Row(prelu_cases, rejects=(
        Reject("per-channel slopes without a channel dim", {"op": "prelu", "per_channel": True},
               (T("N"),)),
        Reject("per-channel slopes on a symbolic channel dim",
               {"op": "prelu", "per_channel": True}, (T("N", "seq", 4),)),
        int_input_reject("prelu"),
    )),
    "elu": _float_row("elu", lambda rng: {"alpha": _uniform(0.1, 2.0)(rng)}),
    "celu": _float_row("celu", lambda rng: {"alpha": _uniform(0.1, 2.0)(rng)}),
    "selu": _float_row("selu"),
    "sigmoid": _float_row("sigmoid"),
    "hardsigmoid": _float_row("hardsigmoid"),
    "tanh": _float_row("tanh"),
    "tanhshrink": _float_row("tanhshrink"),
    "softsign": _float_row("softsign"),
    "softplus": _float_row("softplus", lambda rng: {
        "beta": _uniform(0.5, 3.0)(rng), "threshold": rng.choice([20.0, 1.0, 0.5])}),
    "gelu": _float_row("gelu", lambda rng: {"approximate": rng.choice(["none", "tanh"])}),
    "silu": _float_row("silu"),
    "hardswish": _float_row("hardswish"),
    "mish": _float_row("mish"),
    "softmax": Row(along_dim_cases("softmax"), rejects=along_dim_rejects("softmax")),
    "log_softmax": Row(along_dim_cases("log_softmax"), rejects=along_dim_rejects("log_softmax")),
}

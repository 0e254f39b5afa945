"""Op-table rows of the index and bias tensors built from a sequence's length (arange, masks,
relative-position buckets and bias, ALiBi). Their shapes follow the input's sequence dim."""

from __future__ import annotations

import random

from harness import Case, Reject, Row, T


def _sequences(rng: random.Random) -> list[T]:
    return [T("N", "seq", rng.randint(1, 6)), T("N", "seq", dtype="int64"),
            T("N", rng.randint(1, 7), 3), T("N", "seq", 2, 3)]


def arange_cases(rng: random.Random) -> list[Case]:
    return [Case({"op": "arange", "start": rng.choice([0, 0, 2]), **extra}, (x,))
            for x, extra in zip(_sequences(rng), [{}, {}, {"dim": -1}, {"dim": 2}],
                                strict=True)]


def mask_cases(name: str, window: bool):
    def cases(rng: random.Random) -> list[Case]:
        out = []
        for x in _sequences(rng):
            config = {"op": name}
            if window or rng.random() < 0.5:
                config["window"] = rng.randint(1, 3)
            out.append(Case(config, (x,)))
        return out
    return cases


def bucket_cases(name: str):
    def cases(rng: random.Random) -> list[Case]:
        out = []
        for i, x in enumerate(_sequences(rng)):
            config = {"op": name, "bidirectional": i % 2 == 0, "num_buckets": rng.choice([8, 32]),
                      "max_distance": rng.choice([9, 128])}
            if name == "relative_position_bias":
                config["heads"] = rng.randint(1, 4)
            inputs = (x, T("N", "L", 4)) if i == 1 else (x,)  # queries and keys
            out.append(Case(config, inputs))
        return out
    return cases


def alibi_cases(rng: random.Random) -> list[Case]:
    return [Case({"op": "alibi_bias", "heads": heads}, (x,))
            for heads, x in zip([4, 3, 8, 6], _sequences(rng), strict=True)]


def _no_sequence(name: str, **config) -> Reject:
    return Reject("no sequence dim", {"op": name, **config}, (T("N", dtype="int64"),))


BIAS = {"op": "relative_position_bias", "heads": 2}

ROWS: dict[str, Row] = {
    "arange": Row(arange_cases, rejects=(
        Reject("dim out of range", {"op": "arange", "dim": 3}, (T("N", "seq", 4),),
               code="DLS102"),
    )),
    "causal_mask": Row(mask_cases("causal_mask", False), rejects=(_no_sequence("causal_mask"),)),
    "window_mask": Row(mask_cases("window_mask", True),
                       rejects=(_no_sequence("window_mask", window=2),)),
    "relative_position_buckets": Row(bucket_cases("relative_position_buckets"),
                                     rejects=(_no_sequence("relative_position_buckets"),)),
    "relative_position_bias": Row(bucket_cases("relative_position_bias"), rejects=(
        _no_sequence("relative_position_bias", heads=2),
        Reject("keys without a sequence dim", BIAS, (T("N", "seq", 4), T("N"))),
    )),
    "alibi_bias": Row(alibi_cases, rejects=(_no_sequence("alibi_bias", heads=2),)),
}

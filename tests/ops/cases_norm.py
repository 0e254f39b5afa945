"""Op-table rows of the normalization layers (dlspec/ops/norm.py)."""

from __future__ import annotations

import random
from collections.abc import Callable

from harness import Case, Reject, Row, T, int_input_reject, sample_shape

from dlspec.ir.types import Dim


def _stats_config(rng: random.Random, name: str) -> dict:
    config = {"op": name, "eps": rng.choice([1e-5, 1e-3, 0.1]),
              "momentum": rng.choice([0.1, 0.01, 0.5, 1.0]), "affine": rng.random() < 0.6}
    if name.startswith("instancenorm"):
        config["track_running_stats"] = rng.random() < 0.5
    return config


def _spatial(rng: random.Random, count: int, i: int) -> list[Dim]:
    """`count` sizes >= 2 (instance statistics need two positions); odd cases symbolic."""
    if i % 2:
        return list(("L", "H", "W")[3 - count:])
    return [rng.randint(2, 7) for _ in range(count)]


def channel_norm_cases(name: str, spatial: int | tuple[int, ...]
                       ) -> Callable[[random.Random], list[Case]]:
    counts = (spatial,) if isinstance(spatial, int) else spatial

    def cases(rng: random.Random) -> list[Case]:
        return [Case(_stats_config(rng, name),
                     (T("N", rng.randint(1, 12), *_spatial(rng, counts[i % len(counts)], i)),))
                for i in range(4)]
    return cases


def channel_norm_row(name: str, spatial: int | tuple[int, ...]) -> Row:
    counts = (spatial,) if isinstance(spatial, int) else spatial
    rank, fewest = 2 + max(counts), 2 + min(counts)
    return Row(channel_norm_cases(name, spatial), rejects=(
        Reject("one dim too few", {"op": name}, (T("N", *[3] * (fewest - 2)),)),
        Reject("one dim too many", {"op": name}, (T("N", *[3] * rank),)),
        Reject("symbolic channels", {"op": name}, (T("N", "C", *[4] * (rank - 2)),)),
        int_input_reject(name, shape=("N", *[3] * (rank - 1))),
    ))


def groupnorm_cases(rng: random.Random) -> list[Case]:
    cases = []
    for rank in (2, 3, 4, 5):
        groups = rng.randint(1, 4)
        config = {"op": "groupnorm", "num_groups": groups, "eps": rng.choice([1e-5, 1e-3]),
                  "affine": rng.random() < 0.6}
        rest = [rng.randint(2, 5) for _ in range(rank - 2)]
        if rest and rng.random() < 0.5:
            rest[0] = "seq"
        cases.append(Case(config, (T("N", groups * rng.randint(1, 4), *rest),)))
    return cases


def last_dims_cases(name: str) -> Callable[[random.Random], list[Case]]:
    def cases(rng: random.Random) -> list[Case]:
        out = []
        for rank in (2, 3, 4, 4, 3):
            dims = rng.randint(1, rank - 1)
            lead = sample_shape(rng, rank - 1 - dims)  # may hold the symbolic seq
            normalized = [rng.randint(1, 8) for _ in range(dims)]
            config = {"op": name, "dims": dims, "elementwise_affine": rng.random() < 0.7}
            if name == "layernorm":
                config.update(eps=rng.choice([1e-5, 1e-6]), bias=rng.random() < 0.5)
            else:
                config["eps"] = rng.choice([None, 1e-6, 1e-5])
            out.append(Case(config, (T("N", *lead, *normalized),)))
        return out
    return cases


def last_dims_row(name: str) -> Row:
    return Row(last_dims_cases(name), rejects=(
        Reject("normalizing over the batch too", {"op": name, "dims": 2}, (T("N", 8),),
               code="DLS102"),
        Reject("symbolic normalized dim", {"op": name}, (T("N", 4, "seq"),)),
        Reject("symbolic dim among several normalized", {"op": name, "dims": 2},
               (T("N", "seq", 8),)),
        int_input_reject(name),
    ))


ROWS: dict[str, Row] = {
    "batchnorm1d": channel_norm_row("batchnorm1d", (0, 1)),
    "batchnorm2d": channel_norm_row("batchnorm2d", 2),
    "batchnorm3d": channel_norm_row("batchnorm3d", 3),
    "instancenorm1d": channel_norm_row("instancenorm1d", 1),
    "instancenorm2d": channel_norm_row("instancenorm2d", 2),
    "instancenorm3d": channel_norm_row("instancenorm3d", 3),
    "groupnorm": Row(groupnorm_cases, rejects=(
        Reject("channels not divisible by the groups", {"op": "groupnorm", "num_groups": 4},
               (T("N", 6, 5),)),
        Reject("symbolic channels", {"op": "groupnorm", "num_groups": 2}, (T("N", "C", 4),)),
        Reject("no channel dim", {"op": "groupnorm", "num_groups": 1}, (T("N"),)),
        int_input_reject("groupnorm", {"num_groups": 2}),
    )),
    "layernorm": last_dims_row("layernorm"),
    "rmsnorm": last_dims_row("rmsnorm"),
}


def layernorm2d_cases(rng: random.Random) -> list[Case]:
    return [Case({"op": "layernorm2d", "eps": rng.choice([1e-6, 1e-5])},
                 (T("N", rng.randint(1, 8), *spatial),))
            for spatial in [(rng.randint(1, 5), rng.randint(1, 5)), ("H", "W"), ("L",),
                            (1, 1)]]


ROWS |= {"layernorm2d": Row(layernorm2d_cases, rejects=(
    Reject("a vector, not a map", {"op": "layernorm2d"}, (T("N", 8),)),
    Reject("symbolic channels", {"op": "layernorm2d"}, (T("N", "seq", 4, 4),)),
    int_input_reject("layernorm2d", shape=("N", 4, 2, 2)),
))}

"""Op-table rows of the pools: max/avg 1d/2d/3d, adaptive avg/max 1d/2d/3d, global pools."""

from __future__ import annotations

import random
from collections.abc import Callable

from cases_conv import SYMBOLIC, each, per_dim
from harness import CASES_PER_OP, Case, Reject, Row, T, fitting, int_input_reject

from dlspec.ir.types import Dim


def pool_cases(name: str, rank: int) -> Callable[[random.Random], list[Case]]:
    def cases(rng: random.Random) -> list[Case]:
        out = []
        for i in range(CASES_PER_OP + 2):
            kernel = per_dim(rng, 1, 4, rank)
            padding = [rng.randint(0, k // 2) for k in each(kernel, rank)]  # torch: <= k // 2
            config = {"op": name, "kernel_size": kernel,
                      "stride": rng.choice([None, per_dim(rng, 1, 3, rank)]),
                      "padding": min(padding) if rng.random() < 0.5 else padding,
                      "ceil_mode": rng.random() < 0.5}
            if name.startswith("avg"):
                config["count_include_pad"] = rng.random() < 0.5
            if i % 3 == 2:  # symbolic sizes in floor mode (ceil mode: the fixed case below)
                config["ceil_mode"] = False
                spatial: tuple[Dim, ...] = SYMBOLIC[rank]
            else:
                spatial = tuple(fitting(rng, k, p) for k, p in
                                zip(each(kernel, rank), each(config["padding"], rank),
                                    strict=True))
            out.append(Case(config, (T("N", rng.randint(1, 4), *spatial),)))
        # H=11: torch gives ceil((11-2)/2)+1 = 6 (a floor formula would say 5)
        out.append(Case({"op": name, "kernel_size": 2, "ceil_mode": True},
                        (T("N", 3, *[8] * (rank - 1), "H"),)))
        # pooling keeps the dtype (an average of int64 is truncated, as in torch)
        out.append(Case({"op": name, "kernel_size": 2}, (T("N", 2, *[5] * rank, dtype="int64"),)))
        return out
    return cases


def pool_rejects(name: str, rank: int) -> tuple[Reject, ...]:
    return (
        Reject("window larger than the input", {"op": name, "kernel_size": 5},
               (T("N", 1, *[3] * rank),)),
        Reject("window larger than the input in the last dim only",
               {"op": name, "kernel_size": [2] * (rank - 1) + [4]},
               (T("N", 1, *[8] * (rank - 1), 3),)),
        Reject("padding more than half the window", {"op": name, "kernel_size": 2,
                                                     "padding": 2}, (T("N", 1, *[8] * rank),)),
        Reject("one spatial dim too few", {"op": name, "kernel_size": 2},
               (T("N", 4, *[8] * (rank - 1)),)),
        Reject("ceil_mode on a symbolic size where the last window could start in the "
               "padding", {"op": name, "kernel_size": 2, "stride": 3, "ceil_mode": True},
               (T("N", 1, *SYMBOLIC[rank]),)),
    )


def adaptive_cases(name: str, rank: int) -> Callable[[random.Random], list[Case]]:
    def cases(rng: random.Random) -> list[Case]:
        out = []
        for i in range(CASES_PER_OP + 1):
            size = per_dim(rng, 1, 7, rank)
            if i == 2:  # null keeps that dim's size
                size = [*each(size, rank)[:-1], None]
            # sizes not divisible by the output size, smaller than it (windows overlap), and
            # symbolic ones (the windows follow the size)
            spatial = SYMBOLIC[rank] if i % 2 else tuple(rng.randint(1, 12) for _ in range(rank))
            out.append(Case({"op": name, "output_size": size},
                            (T("N", rng.randint(1, 4), *spatial),)))
        if "max" in name:
            out.append(Case({"op": name, "output_size": 2}, (T("N", 2, *[5] * rank,
                                                                dtype="int64"),)))
        return out
    return cases


def adaptive_rejects(name: str, rank: int) -> tuple[Reject, ...]:
    rejects = (Reject("one spatial dim too many", {"op": name, "output_size": 1},
                      (T("N", 2, *[4] * (rank + 1)),)),
               Reject("output_size for another rank", {"op": name, "output_size": 1},
                      (T("N", 2, *[4] * (rank - 1)),)))
    if "avg" in name:
        rejects += (int_input_reject(name, {"output_size": 2}, ("N", 3, *[4] * rank)),)
    return rejects


def global_cases(name: str, rank: int) -> Callable[[random.Random], list[Case]]:
    def cases(rng: random.Random) -> list[Case]:
        out = [Case({"op": name}, (T("N", rng.randint(1, 16), *spatial),)) for spatial in
               [tuple(rng.randint(1, 9) for _ in range(rank)), SYMBOLIC[rank], (1,) * rank]]
        if "max" in name:
            out.append(Case({"op": name}, (T("N", 3, *SYMBOLIC[rank], dtype="int64"),)))
        return out
    return cases


def global_rejects(name: str, rank: int) -> tuple[Reject, ...]:
    rejects = (Reject("no spatial dim", {"op": name}, (T("N", 8),)),
               Reject("one spatial dim too many", {"op": name}, (T("N", 8, *[4] * (rank + 1)),)))
    if "avg" in name:
        rejects += (int_input_reject(name, shape=("N", 3, *[4] * rank)),)
    return rejects


ROWS: dict[str, Row] = {}
for _rank in (1, 2, 3):
    for _kind in ("max", "avg"):
        _name = f"{_kind}pool{_rank}d"
        ROWS[_name] = Row(pool_cases(_name, _rank), rejects=pool_rejects(_name, _rank))
        _name = f"adaptive_{_kind}_pool{_rank}d"
        ROWS[_name] = Row(adaptive_cases(_name, _rank), rejects=adaptive_rejects(_name, _rank))
        if _rank < 3:
            _name = f"global_{_kind}_pool{_rank}d"
            ROWS[_name] = Row(global_cases(_name, _rank), rejects=global_rejects(_name, _rank))

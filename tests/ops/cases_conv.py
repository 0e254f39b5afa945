"""Op-table rows of the convolutions: conv1d/2d/3d and conv_transpose1d/2d/3d."""

from __future__ import annotations

import random
from collections.abc import Callable

from harness import CASES_PER_OP, Case, Reject, Row, T, fitting, int_input_reject

from dlspec.ir.types import Dim

# The symbolic spatial dims of each rank; SIZES makes each at least 7 long, room for the
# largest window the rows draw (kernel 4, dilation 2).
SYMBOLIC: dict[int, tuple[str, ...]] = {1: ("L",), 2: ("H", "W"), 3: ("L", "H", "W")}


def per_dim(rng: random.Random, low: int, high: int, rank: int) -> int | list[int]:
    """One number for every spatial dim, or (sometimes) a number per dim."""
    if rng.random() < 0.3:
        return [rng.randint(low, high) for _ in range(rank)]
    return rng.randint(low, high)


def collapsed(values: list[int]) -> int | list[int]:
    """Equal per-dim numbers as the one number that means them all."""
    return values[0] if len(set(values)) == 1 else values


def each(value, rank: int) -> list:
    return [value] * rank if isinstance(value, int) else list(value)


def conv_cases(rank: int) -> Callable[[random.Random], list[Case]]:
    name = f"conv{rank}d"

    def cases(rng: random.Random) -> list[Case]:
        out = []
        paddings = [lambda: rng.randint(0, 2), lambda: [rng.randint(0, 2) for _ in range(rank)],
                    lambda: "same", lambda: "valid"]
        for i in range(2 * CASES_PER_OP):
            groups = rng.choice([1, 1, 2, 3])
            cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
            kernel, dilation = per_dim(rng, 1, 4, rank), per_dim(rng, 1, 2, rank)
            padding = paddings[i % len(paddings)]()  # every kind of padding, random values
            config = {"op": name, "out_channels": cout, "kernel_size": kernel,
                      "stride": 1 if padding == "same" else per_dim(rng, 1, 3, rank),
                      "padding": padding, "dilation": dilation, "groups": groups,
                      "bias": rng.random() < 0.5}
            if i % 3 == 0:
                config["in_channels"] = cin
            if i % 3 == 1:
                spatial: tuple[Dim, ...] = SYMBOLIC[rank]
            else:
                pads = [0] * rank if isinstance(padding, str) else each(padding, rank)
                spatial = tuple(fitting(rng, d * (k - 1) + 1, p) for k, d, p in
                                zip(each(kernel, rank), each(dilation, rank), pads, strict=True))
            out.append(Case(config, (T("N", cin, *spatial),)))
        # 'same' with an even kernel: torch pads one more on one side, the size is kept
        out.append(Case({"op": name, "out_channels": 5, "kernel_size": [4, 2, 2][:rank],
                         "padding": "same"}, (T("N", 2, *([7] * (rank - 1)), "W"),)))
        return out
    return cases


def channel_rejects(name: str, rank: int) -> tuple[Reject, ...]:
    """What every convolution refuses: wrong rank, channels, in_channels or dtype."""
    base = {"op": name, "out_channels": 4, "kernel_size": 3}
    return (
        Reject("one spatial dim too few", base, (T("N", 3, *[8] * (rank - 1)),)),
        Reject("one spatial dim too many", base, (T("N", 3, *[8] * (rank + 1)),)),
        Reject("channels not divisible by groups", {**base, "groups": 2},
               (T("N", 3, *[8] * rank),)),
        Reject("symbolic channels", base, (T("N", "C", *[8] * rank),)),
        Reject("in_channels disagrees with the input", {**base, "in_channels": 4},
               (T("N", 3, *[8] * rank),)),
        int_input_reject(name, {"out_channels": 2, "kernel_size": 1}, ("N", 3, *[4] * rank)),
    )


def conv_rejects(name: str, rank: int) -> tuple[Reject, ...]:
    base = {"op": name, "out_channels": 4, "kernel_size": 3}
    return channel_rejects(name, rank) + (
        Reject("kernel larger than the input in the last dim", {**base, "kernel_size": 5},
               (T("N", 3, *[8] * (rank - 1), 4),)),
        Reject("dilated kernel larger than the padded input",
               {**base, "dilation": 4, "padding": 1}, (T("N", 3, *[6] * rank),)),
    )


def conv_transpose_cases(rank: int) -> Callable[[random.Random], list[Case]]:
    name = f"conv_transpose{rank}d"

    def cases(rng: random.Random) -> list[Case]:
        out = []
        for i in range(CASES_PER_OP + 2):
            groups = rng.choice([1, 1, 2, 3])
            cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
            kernel, stride, dilation = (per_dim(rng, 1, high, rank) for high in (4, 3, 2))
            dims = list(zip(each(kernel, rank), each(stride, rank), each(dilation, rank),
                            strict=True))
            config = {"op": name, "out_channels": cout, "kernel_size": kernel,
                      "stride": stride, "dilation": dilation, "groups": groups,
                      "bias": rng.random() < 0.5,
                      # trims at most half the dilated kernel: the output is never empty
                      "padding": collapsed([rng.randint(0, d * (k - 1) // 2) for k, _, d in dims]),
                      # torch's rule: smaller than the stride or the dilation
                      "output_padding": collapsed([rng.randint(0, max(s, d) - 1)
                                                   for _, s, d in dims])}
            if i % 3 == 0:
                config["in_channels"] = cin
            spatial: tuple[Dim, ...] = SYMBOLIC[rank] if i % 3 == 1 else \
                tuple(rng.randint(1, 6) for _ in range(rank))
            out.append(Case(config, (T("N", cin, *spatial),)))
        return out
    return cases


def conv_transpose_rejects(name: str, rank: int) -> tuple[Reject, ...]:
    # (1 - 1) * 1 - 2 * 2 + 1 * (3 - 1) + 0 + 1 = -1
    return channel_rejects(name, rank) + (
        Reject("padding trims the output to nothing",
               {"op": name, "out_channels": 4, "kernel_size": 3, "padding": 2},
               (T("N", 3, *[4] * (rank - 1), 1),)),
    )


ROWS: dict[str, Row] = {}
for _rank in (1, 2, 3):
    ROWS[f"conv{_rank}d"] = Row(conv_cases(_rank), rejects=conv_rejects(f"conv{_rank}d", _rank))
    ROWS[f"conv_transpose{_rank}d"] = Row(
        conv_transpose_cases(_rank),
        rejects=conv_transpose_rejects(f"conv_transpose{_rank}d", _rank))

"""`window_out`, the sliding-window size rule of the convolutions and the pools, against the
sizes torch's real MaxPool2d, AvgPool2d and Conv2d produce, over a grid of sizes, kernels,
strides, paddings, dilations and ceil_mode; and the transposed convolution's size rule against
ConvTranspose1d."""

from __future__ import annotations

import itertools
from functools import cache

import pytest
import torch
from harness import T, concretize
from torch import nn

from dlspec.errors import RuleError
from dlspec.ops.conv import ConvTranspose1d, window_out
from dlspec.ops.pool import AvgPool2d, MaxPool2d

SIZES = range(1, 13)
KERNELS = range(1, 6)
STRIDES = range(1, 4)
PADDINGS = range(0, 3)
POOLS = {"maxpool2d": (nn.MaxPool2d, MaxPool2d), "avgpool2d": (nn.AvgPool2d, AvgPool2d)}


def _torch_size(module: nn.Module, size: int) -> int | None:
    """The output height torch gives a (1, 1, size, size) input, or None if it refuses."""
    try:
        with torch.no_grad():
            return module(torch.zeros(1, 1, size, size)).shape[2]
    except RuntimeError:
        return None


def _rule_size(size, *args, **kwargs) -> int | None:
    try:
        return window_out(size, *args, **kwargs)
    except RuleError:
        return None


@cache
def pool_grid(pool: str) -> list[tuple[int, int, int, int, bool, int | None]]:
    """(size, kernel, stride, padding, ceil_mode, torch's output size or None)."""
    torch_class = POOLS[pool][0]
    grid = []
    for k, s, p, ceil in itertools.product(KERNELS, STRIDES, PADDINGS, (False, True)):
        try:
            module = torch_class(k, s, p, ceil_mode=ceil)
        except (RuntimeError, ValueError):
            module = None
        for size in SIZES:
            grid.append((size, k, s, p, ceil, module and _torch_size(module, size)))
    return grid


@cache
def conv_grid() -> list[tuple[int, int, int, int, int, int | None]]:
    """(size, kernel, stride, padding, dilation, torch's output size or None)."""
    torch.manual_seed(0)
    grid = []
    for k, s, p, d in itertools.product(KERNELS, STRIDES, PADDINGS, (1, 2, 3)):
        module = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
        grid.extend((size, k, s, p, d, _torch_size(module, size)) for size in SIZES)
    return grid


def _overhang(size: int, k: int, p: int) -> bool:
    """The window is longer than the padded input: torch still gives 1 in ceil_mode."""
    return size + 2 * p < k


@pytest.mark.parametrize("pool", sorted(POOLS))
def test_pool_sizes_match_torch(pool):
    grid = pool_grid(pool)
    wrong = [(size, k, s, p, ceil, got, _rule_size(size, k, s, p, ceil_mode=ceil))
             for size, k, s, p, ceil, got in grid
             if got is not None and not _overhang(size, k, p)
             and _rule_size(size, k, s, p, ceil_mode=ceil) != got]
    assert not wrong, "(size, kernel, stride, padding, ceil_mode, torch, rule):\n" + \
        "\n".join(map(str, wrong))
    assert sum(got is not None for *_, got in grid) > 500


@pytest.mark.parametrize("pool", sorted(POOLS))
def test_pool_rule_refuses_what_torch_refuses(pool):
    """Too small an input, or padding over half the window: the op's rule says so first."""
    op_class = POOLS[pool][1]
    missed = []
    for size, k, s, p, ceil, got in pool_grid(pool):
        if got is None:
            op = op_class(kernel_size=k, stride=s, padding=p, ceil_mode=ceil)
            try:
                op.infer(T("N", 1, size, size))
            except RuleError:
                continue
            missed.append((size, k, s, p, ceil))
    assert not missed, f"torch refuses these, the rule accepts them: {missed}"


@pytest.mark.parametrize("pool", sorted(POOLS))
def test_pool_rule_refuses_a_window_longer_than_the_padded_input(pool):
    """Deliberately stricter than torch: in ceil_mode torch makes one output of a window that
    hangs over the end of the (padded) input; the rule refuses any window that does not fit."""
    overhangs = [row for row in pool_grid(pool) if row[-1] is not None
                 and _overhang(row[0], row[1], row[3])]
    assert overhangs and all(ceil and got == 1 for *_, ceil, got in overhangs)
    for size, k, s, p, ceil, _ in overhangs:
        with pytest.raises(RuleError):
            window_out(size, k, s, p, ceil_mode=ceil)


def test_conv_sizes_match_torch():
    wrong, refused = [], 0
    for size, k, s, p, d, got in conv_grid():
        rule = _rule_size(size, k, s, p, d)
        if rule != got:
            wrong.append((size, k, s, p, d, got, rule))
        refused += got is None
    assert not wrong, "(size, kernel, stride, padding, dilation, torch, rule):\n" + \
        "\n".join(map(str, wrong))
    assert 0 < refused < len(conv_grid()) // 2


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_symbolic_window_is_the_concrete_one(ceil_mode):
    """window_out('H', ...) evaluated at H = size is window_out(size, ...) wherever that fits."""
    wrong = []
    for size, k, s, p in itertools.product(SIZES, KERNELS, STRIDES, PADDINGS):
        if ceil_mode and p > k // 2:  # ceil_mode is a pool option: pools pad at most k // 2
            continue
        for d in ((1,) if ceil_mode else (1, 2, 3)):
            concrete = _rule_size(size, k, s, p, d, ceil_mode=ceil_mode)
            if concrete is None:
                continue
            if ceil_mode and s > k - p:  # a last window could start in the padding: refused
                with pytest.raises(RuleError, match="ceil_mode on a symbolic size"):
                    window_out("H", k, s, p, d, ceil_mode=ceil_mode)
                continue
            symbolic = window_out("H", k, s, p, d, ceil_mode=ceil_mode)
            if concretize(symbolic, {"H": size}) != concrete:
                wrong.append((size, k, s, p, d, symbolic, concrete))
    assert not wrong, "(size, kernel, stride, padding, dilation, rule on H, rule on size):\n" \
        + "\n".join(map(str, wrong[:20]))


def test_transposed_conv_sizes_match_torch_concrete_and_symbolic():
    """(L-1)*s - 2p + d*(k-1) + output_padding + 1, on numbers and on a symbolic L evaluated at
    the same number, equals ConvTranspose1d's output length; where torch refuses (nothing
    left), the rule does too."""
    torch.manual_seed(0)
    wrong, checked = [], 0
    for k, s, p, d in itertools.product(range(1, 5), STRIDES, PADDINGS, (1, 2)):
        for extra in range(max(s, d)):  # output_padding must be below stride or dilation
            op = ConvTranspose1d(out_channels=1, kernel_size=k, stride=s, padding=p,
                                 output_padding=extra, dilation=d)
            module = nn.ConvTranspose1d(1, 1, k, s, p, extra, dilation=d, bias=False)
            symbolic = op.infer(T("N", 1, "L")).shape[2]
            for size in range(1, 9):
                try:
                    with torch.no_grad():
                        got = module(torch.zeros(1, 1, size)).shape[2]
                except RuntimeError:
                    got = None
                try:
                    rule = op.infer(T("N", 1, size)).shape[2]
                except RuleError:
                    rule = None
                at_size = concretize(symbolic, {"L": size})
                if rule != got or (got is not None and at_size != got):
                    wrong.append((size, k, s, p, extra, d, got, rule, symbolic))
                checked += got is not None
    assert not wrong, "(size, k, s, p, output_padding, d, torch, rule, symbolic):\n" + \
        "\n".join(map(str, wrong[:20]))
    assert checked > 1000

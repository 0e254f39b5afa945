"""Index and bias tensors computed from a sequence's length: positions, causal and window
masks (0 / the float's lowest value), T5's relative-position buckets and bias, ALiBi. Dim 1 of
the input is the sequence; only its size is read.

Imports only torch and math, so its source can be copied into standalone Python."""

from __future__ import annotations

import math

import torch
from torch import nn


class Arange(nn.Module):
    """Positions start.. of dim `dim`, int64, one row per sample: (N, L, ...) -> (N, L)."""

    def __init__(self, dim: int = 1, start: int = 0):
        super().__init__()
        self.dim, self.start = dim, start

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(x.shape[self.dim], device=x.device) + self.start
        return positions.unsqueeze(0).expand(x.shape[0], -1)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, start={self.start}"


def query_key_offsets(queries: int, keys: int, device) -> torch.Tensor:
    """(T, S) key position j minus query position i."""
    return (torch.arange(keys, device=device)[None, :]
            - torch.arange(queries, device=device)[:, None])


class PositionMask(nn.Module):
    """0 where query i sees key j (j <= i if causal; |i - j| <= window if a window is given),
    the lowest float elsewhere: (N, L, ...) -> (N, 1, L, L)."""

    def __init__(self, causal: bool = True, window: int | None = None):
        super().__init__()
        self.causal, self.window = causal, window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offsets = query_key_offsets(x.shape[1], x.shape[1], x.device)  # j - i
        hidden = offsets > 0 if self.causal else torch.zeros_like(offsets, dtype=torch.bool)
        if self.window is not None:
            hidden = hidden | (offsets.abs() > self.window)
        mask = hidden.to(torch.float32) * torch.finfo(torch.float32).min
        return mask[None, None].expand(x.shape[0], -1, -1, -1)

    def extra_repr(self) -> str:
        return f"causal={self.causal}, window={self.window}"


def relative_position_bucket(offsets: torch.Tensor, bidirectional: bool = True,
                             num_buckets: int = 32, max_distance: int = 128) -> torch.Tensor:
    """T5's bucket of each key-minus-query offset: distances below half the buckets (of a
    direction) exactly, larger ones on a log scale up to max_distance, beyond it the last."""
    buckets = torch.zeros_like(offsets)
    if bidirectional:
        num_buckets //= 2
        buckets = (offsets > 0).to(offsets.dtype) * num_buckets
        distance = offsets.abs()
    else:
        distance = -offsets.clamp(max=0)
    exact = num_buckets // 2
    far = exact + (torch.log(distance.clamp(min=exact).float() / exact)
                   / math.log(max_distance / exact) * (num_buckets - exact)).to(offsets.dtype)
    far = far.clamp(max=num_buckets - 1)
    return buckets + torch.where(distance < exact, distance, far)


class RelativePositionBuckets(nn.Module):
    """T5's bucket of every query and key: queries (N, T, ...) [, keys (N, S, ...)] ->
    int64 (N, T, S)."""

    def __init__(self, bidirectional: bool = True, num_buckets: int = 32,
                 max_distance: int = 128):
        super().__init__()
        self.bidirectional, self.num_buckets = bidirectional, num_buckets
        self.max_distance = max_distance

    def buckets(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        offsets = query_key_offsets(queries.shape[1], keys.shape[1], queries.device)
        return relative_position_bucket(offsets, self.bidirectional, self.num_buckets,
                                        self.max_distance)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor | None = None) -> torch.Tensor:
        buckets = self.buckets(queries, queries if keys is None else keys)
        return buckets.unsqueeze(0).expand(queries.shape[0], -1, -1)

    def extra_repr(self) -> str:
        return (f"bidirectional={self.bidirectional}, num_buckets={self.num_buckets}, "
                f"max_distance={self.max_distance}")


class RelativePositionBias(nn.Embedding):
    """T5's relative position bias: `weight` (num_buckets, heads) looked up by bucket:
    queries (N, T, ...) [, keys (N, S, ...)] -> (N, heads, T, S)."""

    def __init__(self, heads: int, bidirectional: bool = True, num_buckets: int = 32,
                 max_distance: int = 128):
        super().__init__(num_buckets, heads)
        self.bucketing = RelativePositionBuckets(bidirectional, num_buckets, max_distance)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor | None = None) -> torch.Tensor:
        buckets = self.bucketing.buckets(queries, queries if keys is None else keys)
        bias = super().forward(buckets).permute(2, 0, 1)  # (heads, T, S)
        return bias.unsqueeze(0).expand(queries.shape[0], -1, -1, -1)


def alibi_slopes(heads: int) -> list[float]:
    """ALiBi's head slopes: 2^(-8h/n), h = 1..n, for n heads a power of two; otherwise those
    of the power of two below, then every other slope of the power above (the paper's code)."""
    def geometric(n: int) -> list[float]:
        return [2.0 ** (-8.0 * h / n) for h in range(1, n + 1)]

    below = 2 ** int(math.floor(math.log2(heads)))
    return geometric(below) + geometric(2 * below)[0::2][:heads - below]


class AlibiBias(nn.Module):
    """-m_h |i - j| for query i, key j, head h: (N, L, ...) -> (N, heads, L, L)."""

    def __init__(self, heads: int):
        super().__init__()
        self.heads, self.slopes = heads, alibi_slopes(heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        distance = query_key_offsets(x.shape[1], x.shape[1], x.device).abs().to(torch.float32)
        slopes = torch.tensor(self.slopes, dtype=torch.float32, device=x.device)
        bias = -slopes[:, None, None] * distance  # (heads, L, L)
        return bias.unsqueeze(0).expand(x.shape[0], -1, -1, -1)

    def extra_repr(self) -> str:
        return f"heads={self.heads}"

"""Modules for tensor ops torch.nn has no module for: rearranging (permute, squeeze,
unsqueeze), taking parts (slice, chunk), reducing (mean, sum) and combining (subtract,
multiply, matmul). Dims are non-negative and count the batch as dim 0."""

from __future__ import annotations

import torch
from torch import nn


class Permute(nn.Module):
    """Reorders the sample dims; the batch stays first."""

    def __init__(self, dims: list[int]):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, *self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Squeeze(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Unsqueeze(Squeeze):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(self.dim)


class Slice(nn.Module):
    """x[..., start:end:step, ...] along `dim`."""

    def __init__(self, dim: int, start: int | None, end: int | None, step: int = 1):
        super().__init__()
        self.dim, self.start, self.end, self.step = dim, start, end, step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = (slice(None),) * self.dim + (slice(self.start, self.end, self.step),)
        return x[index]

    def extra_repr(self) -> str:
        return f"dim={self.dim}, start={self.start}, end={self.end}, step={self.step}"


class Chunk(nn.Module):
    """Piece `index` of `chunks` equal pieces along `dim`."""

    def __init__(self, dim: int, chunks: int, index: int):
        super().__init__()
        self.dim, self.chunks, self.index = dim, chunks, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(self.dim, (self.chunks, -1)).select(self.dim, self.index)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, chunks={self.chunks}, index={self.index}"


class Mean(nn.Module):
    def __init__(self, dims: list[int], keepdim: bool = False):
        super().__init__()
        self.dims, self.keepdim = tuple(dims), keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dims, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, keepdim={self.keepdim}"


class Sum(Mean):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=self.dims, keepdim=self.keepdim)


class Subtract(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a - b


class Multiply(nn.Module):
    """Product of all inputs (sizes of 1 broadcast)."""

    def forward(self, first: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        for other in rest:
            first = first * other
        return first


class MatMul(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


class Roll(nn.Module):
    def __init__(self, shifts: list[int], dims: list[int]):
        super().__init__()
        self.shifts, self.dims = tuple(shifts), tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.roll(x, shifts=self.shifts, dims=self.dims)

    def extra_repr(self) -> str:
        return f"shifts={self.shifts}, dims={self.dims}"


class Tile(nn.Module):
    """Copies of the sample along each sample dim; the batch is not tiled."""

    def __init__(self, reps: list[int]):
        super().__init__()
        self.reps = tuple(reps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat(1, *self.reps)

    def extra_repr(self) -> str:
        return f"reps={self.reps}"


class Repeat(nn.Module):
    """Each element `repeats` times in place along `dim` (repeat_interleave)."""

    def __init__(self, repeats: int, dim: int):
        super().__init__()
        self.repeats, self.dim = repeats, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.repeat_interleave(x, self.repeats, dim=self.dim)

    def extra_repr(self) -> str:
        return f"repeats={self.repeats}, dim={self.dim}"


class Expand(nn.Module):
    """Sizes of 1 broadcast to `shape` (per sample; -1 keeps a dim), as a view."""

    def __init__(self, shape: list[int]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand(-1, *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Scale(nn.Module):
    """x times a constant."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor}"

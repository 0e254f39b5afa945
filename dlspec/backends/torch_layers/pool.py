"""Pooling layers that torch.nn has no export-safe module for."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

# true while torch.export traces; a torch without the flag (before 2.6 or so) runs eagerly
is_exporting = getattr(torch.compiler, "is_exporting", lambda: False)


class MaxPool1d(nn.MaxPool1d):
    """nn.MaxPool1d computed as a 2-D pool over a (1, L) image: the same numbers, but the ONNX
    exporter keeps a symbolic length dynamic (torch's 1-D kernel makes it fix the length)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = functional.max_pool2d(
            x.unsqueeze(-2), (1, _one(self.kernel_size)), (1, _one(self.stride)),
            (0, _one(self.padding)), (1, _one(self.dilation)), ceil_mode=self.ceil_mode)
        return pooled.squeeze(-2)


def _one(value: int | tuple[int]) -> int:
    return value if isinstance(value, int) else value[0]


class AdaptivePool(nn.Module):
    """Adaptive average or max pooling over any number of spatial dims, as torch's
    AdaptiveAvgPool/AdaptiveMaxPool compute it: output i of n over a length L pools
    [floor(i*L/n), ceil((i+1)*L/n)).

    Run eagerly it calls torch's kernel. Traced for export it runs `traceable`, which pools
    one dim at a time (a box's mean is the mean of its rows' means, as every row has the same
    length; a box's max likewise), each output from a mask of its window made with tensor
    arithmetic on the input's size. So the ONNX graph keeps any symbolic size, including sizes
    that do not divide by the output size and sizes computed by earlier layers (2*H), where
    the export of torch's kernel fixes the size, fails, or computes other windows. The export
    check compares the two paths (ONNX Runtime against the eager model)."""

    def __init__(self, output_size: list[int | None], mode: str = "avg"):
        super().__init__()
        if mode not in ("avg", "max"):
            raise ValueError(f"mode must be 'avg' or 'max', got {mode!r}")
        self.output_size = list(output_size)
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if is_exporting() or not x.is_floating_point():
            return self.traceable(x)  # torch's kernels have no int64 versions either
        kept = x.shape[x.dim() - len(self.output_size):]
        size = [s if n is None else n for s, n in zip(kept, self.output_size, strict=True)]
        pool = getattr(functional, f"adaptive_{self.mode}_pool{len(size)}d")
        return pool(x, size[0] if len(size) == 1 else size)

    def traceable(self, x: torch.Tensor) -> torch.Tensor:
        """The same pooling in tensor arithmetic that an export keeps symbolic."""
        first = x.dim() - len(self.output_size)
        for axis, count in enumerate(self.output_size, start=first):
            if count is not None:
                x = self._pool_axis(x.movedim(axis, -1), count).movedim(-1, axis)
        return x

    def _pool_axis(self, x: torch.Tensor, count: int) -> torch.Tensor:
        """(..., L) -> (..., count)."""
        length = x.shape[-1]
        outputs = torch.arange(count, device=x.device).unsqueeze(1)
        start = torch.div(outputs * length, count, rounding_mode="floor")
        end = torch.div((outputs + 1) * length + count - 1, count, rounding_mode="floor")
        positions = torch.arange(length, device=x.device)
        inside = (positions >= start) & (positions < end)  # (count, L)
        rows = x.unsqueeze(-2)  # (..., 1, L)
        if self.mode == "avg":
            weights = inside.to(x.dtype) / (end - start).to(x.dtype)
            return (rows * weights).sum(-1)
        lowest = torch.finfo(x.dtype).min if x.dtype.is_floating_point else \
            torch.iinfo(x.dtype).min
        return torch.where(inside, rows, lowest).amax(-1)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, mode={self.mode!r}"


class GlobalPool(nn.Module):
    """Mean or max over all `rank` spatial dims: (N, C, *spatial) -> (N, C)."""

    def __init__(self, rank: int = 2, mode: str = "avg"):
        super().__init__()
        if mode not in ("avg", "max"):
            raise ValueError(f"mode must be 'avg' or 'max', got {mode!r}")
        self.dims = tuple(range(2, 2 + rank))
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dims) if self.mode == "avg" else x.amax(dim=self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, mode={self.mode!r}"

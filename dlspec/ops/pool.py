"""Pooling over 1, 2 or 3 spatial dims: sliding max and average windows, adaptive pools (a
fixed output size) and global pools (one value per channel)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.base import Build, Op, PositiveInt, expect_float, expect_rank
from dlspec.ops.conv import LAYOUTS, Offsets, Sizes, SpatialOp, per_rank, window_out

POOLS = "dlspec.backends.torch_layers.pool"


class _PoolNd(SpatialOp):
    kernel_size: Sizes = Field(description="Window size: one number or one per spatial dim.")
    stride: Sizes | None = Field(None, description="Window step; defaults to kernel_size.")
    padding: Offsets = Field(0, description="Implicit padding on both sides (at most half "
                             "the window).")
    ceil_mode: bool = Field(False, description="Round the output size up instead of down.")

    def infer(self, x: TensorType) -> TensorType:
        sizes = self.spatial_input(x)
        kernel, pad = self.each(self.kernel_size), self.each(self.padding)
        for k, p in zip(kernel, pad, strict=True):
            if p > k // 2:
                raise RuleError(f"padding {p} is more than half the window {k}",
                                hint="PyTorch allows at most kernel_size // 2")
        sizes = [window_out(size, k, s, p, ceil_mode=self.ceil_mode) for size, k, s, p in
                 zip(sizes, kernel, self.each(self.stride or self.kernel_size), pad, strict=True)]
        return x.with_shape(*x.shape[:2], *sizes)

    def torch_kwargs(self) -> dict:
        return {"kernel_size": self.each(self.kernel_size),
                "stride": self.each(self.stride or self.kernel_size),
                "padding": self.each(self.padding), "ceil_mode": self.ceil_mode}


class _MaxPoolNd(_PoolNd):
    def build(self, x: TensorType) -> Build:
        # torch's own MaxPool1d fixes a symbolic length in ONNX exports; ours pools in 2-D
        target = f"{POOLS}.MaxPool1d" if self.rank == 1 else f"torch.nn.MaxPool{self.rank}d"
        return Build(target, self.torch_kwargs())


MaxPool1d, MaxPool2d, MaxPool3d = per_rank(
    _MaxPoolNd, "MaxPool{rank}d", "maxpool{rank}d",
    "{rank}-D max pooling: {layout} -> (N, C, {out})."
    "\n\nEach spatial size becomes floor((size + 2*padding - kernel) / stride) + 1 "
    "(ceil with ceil_mode, where the last window must start inside the input or its "
    "left padding).")


class _AvgPoolNd(_PoolNd):
    count_include_pad: bool = Field(True, description="Count padded zeros in the average.")

    def build(self, x: TensorType) -> Build:  # int64 in, int64 (truncated means) out
        return Build(f"torch.nn.AvgPool{self.rank}d",
                     {**self.torch_kwargs(), "count_include_pad": self.count_include_pad})


AvgPool1d, AvgPool2d, AvgPool3d = per_rank(
    _AvgPoolNd, "AvgPool{rank}d", "avgpool{rank}d",
    "{rank}-D average pooling: {layout} -> (N, C, {out})."
    "\n\nEach spatial size becomes floor((size + 2*padding - kernel) / stride) + 1 "
    "(ceil with ceil_mode, where the last window must start inside the input or its "
    "left padding).")


class _AdaptivePoolNd(SpatialOp):
    output_size: PositiveInt | tuple[PositiveInt | None, ...] = Field(
        description="Output size: one number for every spatial dim, or one per dim (null "
        "keeps that dim's input size). Window i of n over length L spans "
        "[floor(i*L/n), ceil((i+1)*L/n)).")
    mode: ClassVar[str]

    def infer(self, x: TensorType) -> TensorType:
        sizes = self.spatial_input(x)
        if self.mode == "avg":
            expect_float(x)
        return x.with_shape(*x.shape[:2], *(size if out is None else out for size, out in
                                            zip(sizes, self.each(self.output_size), strict=True)))

    def build(self, x: TensorType) -> Build:
        return Build(f"{POOLS}.AdaptivePool", {"output_size": list(self.each(self.output_size)),
                                               "mode": self.mode})


AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d = per_rank(
    _AdaptivePoolNd, "AdaptiveAvgPool{rank}d", "adaptive_avg_pool{rank}d",
    "Average over output_size windows tiling each spatial dim: {layout} -> (N, C, "
    "*output_size).\n\nWindow i of n over a size L spans [floor(i*L/n), ceil((i+1)*L/n)), "
    "as in PyTorch; any size works, also symbolic ones in ONNX.", mode="avg")
AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d = per_rank(
    _AdaptivePoolNd, "AdaptiveMaxPool{rank}d", "adaptive_max_pool{rank}d",
    "Maximum over output_size windows tiling each spatial dim: {layout} -> (N, C, "
    "*output_size).\n\nWindow i of n over a size L spans [floor(i*L/n), ceil((i+1)*L/n)), "
    "as in PyTorch; any size works, also symbolic ones in ONNX.", mode="max")


class _GlobalPool(Op):
    rank: ClassVar[int]
    mode: ClassVar[str]

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, self.rank + 2, LAYOUTS[self.rank])
        if self.mode == "avg":
            expect_float(x)
        return x.with_shape(*x.shape[:2])

    def build(self, x: TensorType) -> Build:
        return Build(f"{POOLS}.GlobalPool", {"rank": self.rank, "mode": self.mode})


GlobalAvgPool1d, GlobalAvgPool2d = per_rank(
    _GlobalPool, "GlobalAvgPool{rank}d", "global_avg_pool{rank}d",
    "Mean over all positions of each channel: {layout} -> (N, C).", ranks=(1, 2), mode="avg")
GlobalMaxPool1d, GlobalMaxPool2d = per_rank(
    _GlobalPool, "GlobalMaxPool{rank}d", "global_max_pool{rank}d",
    "Maximum over all positions of each channel: {layout} -> (N, C).", ranks=(1, 2),
    mode="max")

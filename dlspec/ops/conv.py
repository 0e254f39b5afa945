"""Convolution and pooling over images: (N, C, H, W)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType, dim_affine
from dlspec.ops.base import (
    Build,
    IntPair,
    NonNegativeInt,
    Op,
    PositiveInt,
    check_declared,
    expect_float,
    expect_rank,
    known,
    numel,
    pair,
)

NCHW = "(N, C, H, W)"


def window_out(size, kernel: int, stride: int, padding: int, dilation: int = 1,
               ceil_mode: bool = False):
    """Output length of a sliding window over `size` (int or symbolic), as torch computes it."""
    span = dilation * (kernel - 1) + 1
    if isinstance(size, int):
        if size + 2 * padding < span:
            raise RuleError(f"window of {span} does not fit in size {size} with padding "
                            f"{padding}", hint="use a smaller kernel or more padding")
        out = -(-(size + 2 * padding - span) // stride) if ceil_mode else \
            (size + 2 * padding - span) // stride
        if ceil_mode and out * stride >= size + padding:  # last window must start inside
            out -= 1
        return out + 1
    if ceil_mode:  # ceil((s - w) / k) = floor((s - w + k - 1) / k), exact while the last
        if stride > span - padding:  # window cannot start in the padding
            raise RuleError("ceil_mode on a symbolic size needs stride <= kernel - padding",
                            hint="use ceil_mode: false, or a fixed size")
        return dim_affine(size, add=2 * padding - span + stride - 1, div=stride)
    return dim_affine(size, add=2 * padding - span, div=stride)


class Conv2d(Op):
    """2-D convolution over (N, C, H, W) images."""

    op: Literal["conv2d"] = "conv2d"
    out_channels: PositiveInt = Field(description="Number of output channels (filters).")
    kernel_size: IntPair = Field(description="Filter size: one number or [height, width].")
    stride: IntPair = Field(1, description="Step of the filter: one number or [h, w].")
    padding: NonNegativeInt | tuple[NonNegativeInt, NonNegativeInt] | Literal["same", "valid"] = \
        Field(0, description="Zero padding: a number, [h, w], 'same' or 'valid'.")
    dilation: IntPair = Field(1, description="Spacing between filter taps.")
    groups: PositiveInt = Field(1, description="Grouped convolution; = in_channels for depthwise.")
    bias: bool = Field(True, description="Learn an additive bias.")
    in_channels: PositiveInt | None = Field(
        None, description="Input channels; inferred from the input when omitted.")

    @model_validator(mode="after")
    def _same_needs_stride_one(self):
        if self.padding == "same" and pair(self.stride) != (1, 1):
            raise ValueError("padding 'same' needs stride 1 (PyTorch's rule); "
                             "give the padding as numbers instead")
        if self.out_channels % self.groups:
            raise ValueError(f"out_channels={self.out_channels} is not divisible by "
                             f"groups={self.groups}")
        return self

    def _padding(self) -> tuple[int, int]:
        if self.padding == "valid":
            return (0, 0)
        if self.padding == "same":  # stride 1: total padding d*(k-1), split evenly
            return tuple(d * (k - 1) // 2 for k, d in zip(pair(self.kernel_size),
                                                          pair(self.dilation), strict=True))
        return pair(self.padding)

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, 4, NCHW)
        expect_float(x)
        channels = known(x.shape[1], "the input's channels")
        check_declared(self.in_channels, channels, "in_channels")
        if channels % self.groups:
            raise RuleError(f"input channels {channels} are not divisible by "
                            f"groups={self.groups}")
        if self.padding == "same":
            return x.with_shape(x.shape[0], self.out_channels, *x.shape[2:])
        sizes = [window_out(size, k, s, p, d) for size, k, s, p, d in zip(
            x.shape[2:], pair(self.kernel_size), pair(self.stride), self._padding(),
            pair(self.dilation), strict=True)]
        return x.with_shape(x.shape[0], self.out_channels, *sizes)

    def build(self, x: TensorType) -> Build:
        padding = self.padding if isinstance(self.padding, str) else pair(self.padding)
        return Build("torch.nn.Conv2d", {
            "in_channels": x.shape[1], "out_channels": self.out_channels,
            "kernel_size": pair(self.kernel_size), "stride": pair(self.stride),
            "padding": padding, "dilation": pair(self.dilation), "groups": self.groups,
            "bias": self.bias})

    def param_count(self, x: TensorType) -> int:
        kh, kw = pair(self.kernel_size)
        return self.out_channels * (x.shape[1] // self.groups * kh * kw + self.bias)

    def macs(self, x: TensorType) -> int:
        out = self.infer(x)
        kh, kw = pair(self.kernel_size)
        return numel(out.shape) * (x.shape[1] // self.groups) * kh * kw


class _Pool2d(Op):
    kernel_size: IntPair = Field(description="Window size: one number or [height, width].")
    stride: IntPair | None = Field(None, description="Window step; defaults to kernel_size.")
    padding: NonNegativeInt | tuple[NonNegativeInt, NonNegativeInt] = Field(
        0, description="Implicit padding on both sides.")
    ceil_mode: bool = Field(False, description="Round the output size up instead of down.")

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, 4, NCHW)
        kernel, pad = pair(self.kernel_size), pair(self.padding)
        stride = pair(self.stride or self.kernel_size)
        for k, p in zip(kernel, pad, strict=True):
            if p > k // 2:
                raise RuleError(f"padding {p} is more than half the window {k}",
                                hint="PyTorch allows at most kernel_size // 2")
        sizes = [window_out(size, k, s, p, ceil_mode=self.ceil_mode)
                 for size, k, s, p in zip(x.shape[2:], kernel, stride, pad, strict=True)]
        return x.with_shape(*x.shape[:2], *sizes)

    def _kwargs(self) -> dict:
        return {"kernel_size": pair(self.kernel_size),
                "stride": pair(self.stride or self.kernel_size),
                "padding": pair(self.padding), "ceil_mode": self.ceil_mode}


class MaxPool2d(_Pool2d):
    """2-D max pooling over (N, C, H, W)."""

    op: Literal["maxpool2d"] = "maxpool2d"

    def build(self, x: TensorType) -> Build:
        return Build("torch.nn.MaxPool2d", self._kwargs())


class AvgPool2d(_Pool2d):
    """2-D average pooling over (N, C, H, W)."""

    op: Literal["avgpool2d"] = "avgpool2d"
    count_include_pad: bool = Field(True, description="Count padded zeros in the average.")

    def build(self, x: TensorType) -> Build:
        return Build("torch.nn.AvgPool2d",
                     {**self._kwargs(), "count_include_pad": self.count_include_pad})


class GlobalAvgPool2d(Op):
    """Mean over all positions of each channel: (N, C, H, W) -> (N, C)."""

    op: Literal["global_avg_pool2d"] = "global_avg_pool2d"

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, 4, NCHW)
        expect_float(x)
        return x.with_shape(*x.shape[:2])

    def build(self, x: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.GlobalAvgPool2d")

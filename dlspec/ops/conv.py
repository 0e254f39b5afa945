"""Convolutions over 1, 2 or 3 spatial dims, plain and transposed, and the sliding-window
size rule they share with the pools: (N, C, L), (N, C, H, W), (N, C, D, H, W)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from dlspec.errors import RuleError
from dlspec.ir.types import Dim, TensorType, dim_add, dim_affine, dim_mul
from dlspec.ops.base import (
    Build,
    NonNegativeInt,
    Op,
    PositiveInt,
    check_declared,
    expect_float,
    expect_rank,
    known,
    numel,
)

Sizes = PositiveInt | tuple[PositiveInt, ...]
Offsets = NonNegativeInt | tuple[NonNegativeInt, ...]
SPATIAL_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
LAYOUTS = {rank: f"(N, C, {', '.join(names)})" for rank, names in SPATIAL_NAMES.items()}


def spatial(value, rank: int) -> tuple:
    """One number for every spatial dim, or the per-dim numbers as they are."""
    return tuple(value) if isinstance(value, tuple | list) else (value,) * rank


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
    add = 2 * padding - span
    if ceil_mode:  # ceil((s - w) / k) = floor((s - w + k - 1) / k), exact while the last
        if stride > span - padding:  # window cannot start in the padding
            raise RuleError("ceil_mode on a symbolic size needs stride <= kernel - padding",
                            hint="use ceil_mode: false, or a fixed size")
        add += stride - 1
    if stride == 1:  # H + add + 1: a 3x3 conv with padding 1 keeps H (a residual adds to it)
        return dim_add(size, add + 1)
    return dim_affine(size, add=add, div=stride)


class SpatialOp(Op):
    """Base of the ops over (N, C, *spatial) with `rank` spatial dims: per-dim attributes are
    one number or a list of `rank` numbers."""

    rank: ClassVar[int] = 2

    @model_validator(mode="after")
    def _one_entry_per_spatial_dim(self):
        for name, value in self:
            if isinstance(value, tuple) and len(value) != self.rank:
                raise ValueError(f"{name} has {len(value)} entries but {self.op_name()} works "
                                 f"on {self.rank} spatial dims: give one number or {self.rank}")
        return self

    def spatial_input(self, x: TensorType) -> tuple[Dim, ...]:
        """The spatial dims of `x`, after checking that it has them."""
        expect_rank(x, self.rank + 2, LAYOUTS[self.rank])
        return x.shape[2:]

    def each(self, value) -> tuple[int, ...]:
        return spatial(value, self.rank)


def per_rank(base: type[Op], class_name: str, op: str, summary: str, ranks=(1, 2, 3),
             **class_vars) -> tuple[type[Op], ...]:
    """The op `base` declares, once per spatial rank: what a `class Conv2d(_ConvNd)` statement
    with `op: Literal["conv2d"]` and `rank = 2` makes. The names and the docstring are
    formatted with `rank`, `layout` (the input's dims) and `out` (the output's spatial dims)."""
    classes = []
    for rank in ranks:
        def fill(text: str, rank: int = rank) -> str:
            out = ", ".join(f"{name}_out" for name in SPATIAL_NAMES[rank])
            return text.format(rank=rank, layout=LAYOUTS[rank], out=out)
        name = fill(op)
        namespace = {"__module__": base.__module__, "__qualname__": fill(class_name),
                     "__doc__": fill(summary), "__annotations__": {"op": Literal[name]},
                     "op": name, "rank": rank, **class_vars}
        classes.append(type(base)(fill(class_name), (base,), namespace))
    return tuple(classes)


class _Convolution(SpatialOp):
    transposed: ClassVar[bool] = False
    out_channels: PositiveInt = Field(description="Number of output channels (filters).")
    kernel_size: Sizes = Field(description="Filter size: one number or one per spatial dim.")
    stride: Sizes = Field(1, description="Step of the filter: one number or one per spatial dim.")
    dilation: Sizes = Field(1, description="Spacing between filter taps.")
    groups: PositiveInt = Field(1, description="Grouped convolution; = in_channels for depthwise.")
    bias: bool = Field(True, description="Learn an additive bias.")
    in_channels: PositiveInt | None = Field(
        None, description="Input channels; inferred from the input when omitted.")

    @model_validator(mode="after")
    def _groups_divide_out_channels(self):
        if self.out_channels % self.groups:
            raise ValueError(f"out_channels={self.out_channels} is not divisible by "
                             f"groups={self.groups}")
        return self

    def checked_spatial(self, x: TensorType) -> tuple[Dim, ...]:
        """The spatial dims of a float input whose channels fit the groups."""
        sizes = self.spatial_input(x)
        expect_float(x)
        channels = known(x.shape[1], "the input's channels")
        check_declared(self.in_channels, channels, "in_channels")
        if channels % self.groups:
            raise RuleError(f"input channels {channels} are not divisible by "
                            f"groups={self.groups}")
        return sizes

    def torch_kwargs(self, x: TensorType) -> dict:
        return {"in_channels": x.shape[1], "out_channels": self.out_channels,
                "kernel_size": self.each(self.kernel_size), "stride": self.each(self.stride),
                "dilation": self.each(self.dilation), "groups": self.groups, "bias": self.bias}

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        """weight (out, in / groups, *kernel); transposed: (in, out / groups, *kernel)."""
        rows, columns = x.shape[1], self.out_channels
        if not self.transposed:
            rows, columns = columns, rows
        shapes = {"weight": (rows, columns // self.groups, *self.each(self.kernel_size))}
        return shapes | ({"bias": (self.out_channels,)} if self.bias else {})

    def _macs_over(self, batch: int, positions: tuple[int, ...], x: TensorType) -> int:
        """Every filter tap of every (input channel, output channel) pair of a group, at
        each of `positions` (output positions for a convolution, input ones when
        transposed)."""
        taps = numel(self.each(self.kernel_size))
        return batch * numel(positions) * x.shape[1] * self.out_channels // self.groups * taps


class _ConvNd(_Convolution):
    padding: Offsets | Literal["same", "valid"] = Field(
        0, description="Zero padding: one number, one per spatial dim, 'same' or 'valid'.")

    @model_validator(mode="after")
    def _same_needs_stride_one(self):
        if self.padding == "same" and set(self.each(self.stride)) != {1}:
            raise ValueError("padding 'same' needs stride 1 (PyTorch's rule); "
                             "give the padding as numbers instead")
        return self

    def infer(self, x: TensorType) -> TensorType:
        sizes = self.checked_spatial(x)
        if self.padding != "same":
            padding = self.each(0 if self.padding == "valid" else self.padding)
            sizes = tuple(window_out(size, k, s, p, d) for size, k, s, p, d in zip(
                sizes, self.each(self.kernel_size), self.each(self.stride), padding,
                self.each(self.dilation), strict=True))
        return x.with_shape(x.shape[0], self.out_channels, *sizes)

    def build(self, x: TensorType) -> Build:
        padding = self.padding if isinstance(self.padding, str) else self.each(self.padding)
        return Build(f"torch.nn.Conv{self.rank}d", {**self.torch_kwargs(x), "padding": padding})

    def macs(self, x: TensorType) -> int:
        return self._macs_over(x.shape[0], self.infer(x).shape[2:], x)


Conv1d, Conv2d, Conv3d = per_rank(
    _ConvNd, "Conv{rank}d", "conv{rank}d",
    "{rank}-D convolution: {layout} -> (N, C_out, {out}).\n\nEach spatial size becomes "
    "floor((size + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1; padding 'same' keeps "
    "it (stride 1), 'valid' is 0. groups = in_channels = out_channels is depthwise.")


class _ConvTransposeNd(_Convolution):
    transposed: ClassVar[bool] = True
    padding: Offsets = Field(
        0, description="Trimmed from both ends of the output (undoes the padding of the "
        "convolution this one inverts): one number or one per spatial dim.")
    output_padding: Offsets = Field(
        0, description="Extra size added to one end of the output (to undo a strided "
        "convolution's rounding); must be smaller than the stride or the dilation.")

    @model_validator(mode="after")
    def _output_padding_below_stride_or_dilation(self):
        for extra, s, d in zip(self.each(self.output_padding), self.each(self.stride),
                               self.each(self.dilation), strict=True):
            if extra >= max(s, d):
                raise ValueError(f"output_padding {extra} must be smaller than the stride {s} "
                                 f"or the dilation {d} (PyTorch's rule)")
        return self

    def infer(self, x: TensorType) -> TensorType:
        """(L - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1 per dim."""
        sizes = []
        for size, k, s, p, extra, d in zip(
                self.checked_spatial(x), self.each(self.kernel_size), self.each(self.stride),
                self.each(self.padding), self.each(self.output_padding),
                self.each(self.dilation), strict=True):
            offset = d * (k - 1) + extra + 1 - 2 * p - s
            out = dim_add(dim_mul(size, s), offset)
            if isinstance(out, int) and out < 1:
                raise RuleError(f"the output size would be {out} for input size {size}",
                                hint="use less padding, or a larger kernel or stride")
            sizes.append(out)
        return x.with_shape(x.shape[0], self.out_channels, *sizes)

    def build(self, x: TensorType) -> Build:
        return Build(f"torch.nn.ConvTranspose{self.rank}d", {
            **self.torch_kwargs(x), "padding": self.each(self.padding),
            "output_padding": self.each(self.output_padding)})

    def macs(self, x: TensorType) -> int:
        self.infer(x)
        return self._macs_over(x.shape[0], x.shape[2:], x)


ConvTranspose1d, ConvTranspose2d, ConvTranspose3d = per_rank(
    _ConvTransposeNd, "ConvTranspose{rank}d", "conv_transpose{rank}d",
    "{rank}-D transposed convolution (decoders, generators): {layout} -> (N, C_out, {out})."
    "\n\nEach spatial size becomes (size - 1)*stride - 2*padding + dilation*(kernel - 1) + "
    "output_padding + 1: kernel 4, stride 2, padding 1 doubles it.")

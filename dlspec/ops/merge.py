"""Ops that combine several inputs: add (residuals), concat (branches)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType, dim_add
from dlspec.ops.base import Build, Op, normalize_dim


def _same_dtype(inputs: tuple[TensorType, ...]) -> str:
    dtypes = {x.dtype for x in inputs}
    if len(dtypes) > 1:
        raise RuleError(f"inputs have different dtypes {sorted(dtypes)}", code="DLS202")
    return inputs[0].dtype


class Add(Op):
    """Elementwise sum of two or more tensors of the same shape (residual connections)."""

    op: Literal["add"] = "add"
    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = None

    def infer(self, *inputs: TensorType) -> TensorType:
        _same_dtype(inputs)
        first = inputs[0]
        if any(x.shape != first.shape for x in inputs[1:]):
            shapes = " and ".join(str(x) for x in inputs)
            raise RuleError(f"inputs have shapes {shapes}; they must be equal",
                            hint=_projection_hint(inputs))
        return first

    def build(self, *inputs: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.Add")


def _projection_hint(inputs: tuple[TensorType, ...]) -> str:
    """Which input to project, to what: the narrower one, up to the wider one's size."""
    a, b = inputs[0], inputs[1]
    if a.rank == b.rank == 4 and a.shape[1] != b.shape[1]:
        narrow, wide = sorted((a, b), key=lambda x: x.shape[1] if isinstance(x.shape[1], int)
                              else 0)
        stride = " and a stride" if narrow.shape[2:] != wide.shape[2:] else ""
        return (f"project the {narrow} input with a 1x1 conv2d of out_channels="
                f"{wide.shape[1]}{stride} (a `downsample` branch)")
    if a.rank == b.rank and a.shape[-1] != b.shape[-1]:
        narrow, wide = sorted((a, b), key=lambda x: x.shape[-1] if isinstance(x.shape[-1], int)
                              else 0)
        return f"project the {narrow} input with a linear layer of out_features={wide.shape[-1]}"
    return "check the layers feeding this add"


class Concat(Op):
    """Joins tensors along one dim; all other dims must agree."""

    op: Literal["concat"] = "concat"
    dim: int = Field(1, description="Axis to join along (the batch is axis 0).")
    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = None

    def infer(self, *inputs: TensorType) -> TensorType:
        dtype = _same_dtype(inputs)
        first = inputs[0]
        if any(x.rank != first.rank for x in inputs):
            raise RuleError("inputs have different ranks: " + ", ".join(map(str, inputs)))
        axis = normalize_dim(self.dim, first.rank)
        for x in inputs[1:]:
            for i, (a, b) in enumerate(zip(first.shape, x.shape, strict=True)):
                if i != axis and a != b:
                    raise RuleError(f"inputs {first} and {x} differ in dim {i}, not only in "
                                    f"the joined dim {axis}")
        size = first.shape[axis]
        for x in inputs[1:]:
            size = dim_add(size, x.shape[axis])
        shape = list(first.shape)
        shape[axis] = size
        return TensorType(tuple(shape), dtype)

    def build(self, *inputs: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.Concat", {"dim": self.dim})

"""Reductions over sample dims: mean and sum (e.g. mean over the sequence to pool tokens)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.base import Build, Op, expect_float, normalize_dim


class _Reduce(Op):
    dims: int | list[int] = Field(1, description=(
        "The dim, or list of dims, to reduce (the batch is dim 0 and cannot be reduced)."))
    keepdim: bool = Field(False, description="Keep each reduced dim with size 1.")
    accepts_integers: ClassVar[bool] = False

    def infer(self, x: TensorType) -> TensorType:
        if not self.accepts_integers:
            expect_float(x)
        axes = self._axes(x)
        if self.keepdim:
            return x.with_shape(*[1 if i in axes else d for i, d in enumerate(x.shape)])
        return x.with_shape(*[d for i, d in enumerate(x.shape) if i not in axes])

    def build(self, x: TensorType) -> Build:
        return Build(f"dlspec.backends.torch_layers.tensor.{type(self).__name__}",
                     {"dims": self._axes(x), "keepdim": self.keepdim})

    def _axes(self, x: TensorType) -> list[int]:
        listed = [self.dims] if isinstance(self.dims, int) else self.dims
        axes = sorted(normalize_dim(d, x.rank) for d in listed)
        if not axes or len(set(axes)) != len(axes):
            raise RuleError(f"dims {self.dims} must name one or more distinct dims",
                            code="DLS102")
        return axes


class Mean(_Reduce):
    """Mean over one or more sample dims: dims 1 makes (N, seq, d) -> (N, d)."""

    op: Literal["mean"] = "mean"


class Sum(_Reduce):
    """Sum over one or more sample dims: dims 1 makes (N, seq, d) -> (N, d)."""

    op: Literal["sum"] = "sum"
    accepts_integers: ClassVar[bool] = True

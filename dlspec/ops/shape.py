"""Ops that rearrange a tensor without computing: flatten, reshape."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType, dim_div, dim_prod
from dlspec.ops.base import Build, Op, normalize_dim


class Flatten(Op):
    """Merges dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    op: Literal["flatten"] = "flatten"
    start_dim: int = Field(1, description="First dim to merge (the batch is dim 0).")
    end_dim: int = Field(-1, description="Last dim to merge.")

    def infer(self, x: TensorType) -> TensorType:
        start = normalize_dim(self.start_dim, x.rank)
        end = normalize_dim(self.end_dim, x.rank)
        if end < start:
            raise RuleError(f"end_dim {self.end_dim} comes before start_dim {self.start_dim}",
                            code="DLS102")
        merged = dim_prod(x.shape[start:end + 1])
        return x.with_shape(*x.shape[:start], merged, *x.shape[end + 1:])

    def build(self, x: TensorType) -> Build:
        return Build("torch.nn.Flatten", {"start_dim": self.start_dim, "end_dim": self.end_dim})


class Reshape(Op):
    """Gives each sample a new shape with the same number of elements; one entry may be -1."""

    op: Literal["reshape"] = "reshape"
    shape: list[int] = Field(description="Per-sample target shape (batch excluded), e.g. [16, 4, 4].")

    @field_validator("shape")
    @classmethod
    def _one_free_dim(cls, shape: list[int]) -> list[int]:
        if shape.count(-1) > 1:
            raise ValueError("at most one entry may be -1")
        if any(d == 0 or d < -1 for d in shape):
            raise ValueError("entries must be positive, or -1 for the one inferred entry")
        return shape

    def infer(self, x: TensorType) -> TensorType:
        total = dim_prod(x.sample_shape)
        fixed = dim_prod([d for d in self.shape if d != -1])
        if -1 in self.shape:
            free = dim_div(total, fixed)
            if free is None:
                raise RuleError(f"cannot reshape {x.sample_shape} ({total} elements) to "
                                f"{self.shape}: {total} is not divisible by {fixed}")
            return x.with_shape(x.shape[0], *[free if d == -1 else d for d in self.shape])
        if fixed != total:
            raise RuleError(f"cannot reshape a sample of {total} elements {x.sample_shape} "
                            f"into {self.shape} ({fixed} elements)",
                            hint="use -1 for the entry to infer")
        return x.with_shape(x.shape[0], *self.shape)

    def build(self, x: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.Reshape", {"shape": list(self.shape)})

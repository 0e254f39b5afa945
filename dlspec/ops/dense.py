"""Fully connected layers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.base import Build, Op, PositiveInt, check_declared, expect_float, known, numel


class Linear(Op):
    """Fully connected layer, y = x W^T + b, over the last dim: (N, *, in) -> (N, *, out)."""

    op: Literal["linear"] = "linear"
    out_features: PositiveInt = Field(description="Size of each output sample.")
    in_features: PositiveInt | None = Field(
        None, description="Size of each input sample; inferred from the input when omitted.")
    bias: bool = Field(True, description="Learn an additive bias.")

    def infer(self, x: TensorType) -> TensorType:
        if x.rank < 2:
            raise RuleError(f"expects at least (N, features), got {x}")
        expect_float(x)
        check_declared(self.in_features, known(x.shape[-1], "the input's last dim"),
                       "in_features")
        return x.with_shape(*x.shape[:-1], self.out_features)

    def build(self, x: TensorType) -> Build:
        return Build("torch.nn.Linear", {"in_features": x.shape[-1],
                                         "out_features": self.out_features, "bias": self.bias})

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        shapes = {"weight": (self.out_features, x.shape[-1])}
        return shapes | ({"bias": (self.out_features,)} if self.bias else {})

    def macs(self, x: TensorType) -> int:
        return numel(x.shape[:-1]) * x.shape[-1] * self.out_features


"""Normalization layers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.base import Build, Op, PositiveInt, expect_float, expect_rank, known, numel

Eps = Field(1e-5, gt=0, description="Added to the variance for numerical stability.")


class _BatchNorm(Op):
    eps: float = Eps
    momentum: float = Field(0.1, gt=0, le=1,
                            description="Weight of the newest batch in the running statistics.")
    affine: bool = Field(True, description="Learn a per-channel scale and shift.")

    def build(self, x: TensorType) -> Build:
        return Build(f"torch.nn.{type(self).__name__}", {
            "num_features": x.shape[1], "eps": self.eps, "momentum": self.momentum,
            "affine": self.affine})

    def param_count(self, x: TensorType) -> int:
        return 2 * x.shape[1] * self.affine


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L), per channel C."""

    op: Literal["batchnorm1d"] = "batchnorm1d"

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, (2, 3), "(N, C) or (N, C, L)")
        expect_float(x)
        known(x.shape[1], "the channel dim")
        return x


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W), per channel C."""

    op: Literal["batchnorm2d"] = "batchnorm2d"

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, 4, "(N, C, H, W)")
        expect_float(x)
        known(x.shape[1], "the channel dim")
        return x


class LayerNorm(Op):
    """Normalizes each sample over its last `dims` dims, with a learned scale and shift."""

    op: Literal["layernorm"] = "layernorm"
    dims: PositiveInt = Field(1, description="How many trailing dims to normalize over.")
    eps: float = Eps
    elementwise_affine: bool = Field(True, description="Learn a scale (and bias) per element.")
    bias: bool = Field(True, description="Learn the additive part of the affine transform.")

    def infer(self, x: TensorType) -> TensorType:
        expect_float(x)
        if self.dims >= x.rank:
            raise RuleError(f"cannot normalize over {self.dims} dims of {x}: that includes "
                            "the batch dim", code="DLS102")
        for dim in x.shape[-self.dims:]:
            known(dim, "a normalized dim")
        return x

    def build(self, x: TensorType) -> Build:
        return Build("torch.nn.LayerNorm", {
            "normalized_shape": list(x.shape[-self.dims:]), "eps": self.eps,
            "elementwise_affine": self.elementwise_affine, "bias": self.bias})

    def param_count(self, x: TensorType) -> int:
        return numel(x.shape[-self.dims:]) * self.elementwise_affine * (1 + self.bias)

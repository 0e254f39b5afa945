"""Multiplying by constants and learned scales: `scale` (a fixed factor, e.g. sqrt(d) on
embeddings) and `layer_scale` (a learned factor per channel on a residual branch: CaiT,
ConvNeXt). The output type is the input type."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dlspec.ir.types import TensorType
from dlspec.ops.base import Build, Op, expect_float, known, normalize_dim

LAYERS = "dlspec.backends.torch_layers.vision"


class Scale(Op):
    """Multiplies by a constant: x * factor (sqrt(d) embedding scaling, d^-0.5 before a tied
    head); no parameters."""

    op: Literal["scale"] = "scale"
    factor: float = Field(description="The constant; an expression such as "
                          "\"${d ** 0.5}\" works.")

    def infer(self, x: TensorType) -> TensorType:
        expect_float(x)
        return x

    def build(self, x: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.tensor.Scale", {"factor": self.factor})


class LayerScale(Op):
    """A learned scale per channel: x * gamma, gamma of size C along `dim` broadcast over the
    dims after it, starting at init_value (ConvNeXt's layer_scale: dim 1 of (N, C, H, W),
    gamma (C, 1, 1))."""

    op: Literal["layer_scale"] = "layer_scale"
    init_value: float = Field(1e-6, description="Initial value of every scale (ConvNeXt and "
                              "CaiT: 1e-6, so a new residual branch starts nearly off).")
    dim: int = Field(1, description="The channel dim: 1 for (N, C, *) (channels first), -1 "
                     "for (N, *, C) (channels last).")

    def infer(self, x: TensorType) -> TensorType:
        expect_float(x)
        known(x.shape[normalize_dim(self.dim, x.rank)], "the scaled channels")
        return x

    def build(self, x: TensorType) -> Build:
        return Build(f"{LAYERS}.LayerScale", {"shape": list(self._shape(x)),
                                              "init_value": self.init_value})

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        return {"weight": self._shape(x)}

    def _shape(self, x: TensorType) -> tuple[int, ...]:
        dim = normalize_dim(self.dim, x.rank)
        return (x.shape[dim], *([1] * (x.rank - 1 - dim)))

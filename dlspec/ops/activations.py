"""Elementwise activations and dropout: the output type is the input type."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from dlspec.ir.types import TensorType
from dlspec.ops.base import Build, Op, Probability, expect_float, normalize_dim


class _Elementwise(Op):
    accepts_integers: ClassVar[bool] = False  # relu and dropout also pass int64 through

    def infer(self, x: TensorType) -> TensorType:
        if not self.accepts_integers:
            expect_float(x)
        return x

    def build(self, x: TensorType) -> Build:
        return Build(self._target(), self.attributes())

    @classmethod
    def _target(cls) -> str:
        return "torch.nn." + cls.__name__


class ReLU(_Elementwise):
    """max(0, x)."""

    op: Literal["relu"] = "relu"
    accepts_integers: ClassVar[bool] = True


class LeakyReLU(_Elementwise):
    """x for x > 0, negative_slope * x otherwise."""

    op: Literal["leaky_relu"] = "leaky_relu"
    negative_slope: float = Field(0.01, description="Slope for negative inputs (alpha).")


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x))."""

    op: Literal["sigmoid"] = "sigmoid"


class Tanh(_Elementwise):
    """Hyperbolic tangent."""

    op: Literal["tanh"] = "tanh"


class GELU(_Elementwise):
    """Gaussian error linear unit, exact or with the tanh approximation."""

    op: Literal["gelu"] = "gelu"
    approximate: Literal["none", "tanh"] = Field(
        "none", description="'none' for the exact erf form, 'tanh' for GPT-2's approximation.")


class SiLU(_Elementwise):
    """x * sigmoid(x), also called swish."""

    op: Literal["silu"] = "silu"


class Softmax(_Elementwise):
    """exp(x) / sum(exp(x)) along one dim."""

    op: Literal["softmax"] = "softmax"
    dim: int = Field(-1, description="Axis to normalize over (the batch is axis 0).")

    def infer(self, x: TensorType) -> TensorType:
        normalize_dim(self.dim, x.rank)
        return super().infer(x)


class Dropout(_Elementwise):
    """Zeroes each element with probability p while training; identity in eval mode."""

    op: Literal["dropout"] = "dropout"
    p: Probability = Field(0.5, description="Probability of zeroing an element, in [0, 1).")
    accepts_integers: ClassVar[bool] = True

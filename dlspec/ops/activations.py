"""Elementwise activations (the output type is the input type) and the softmax family."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.base import Build, Op, expect_float, known, normalize_dim


class _Elementwise(Op):
    """Shape-preserving op built as `torch.nn.<ClassName>(**attributes)`."""

    accepts_integers: ClassVar[bool] = False  # clamping ops (relu, relu6) pass int64 through

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


class ReLU6(_Elementwise):
    """min(max(0, x), 6) (MobileNet)."""

    op: Literal["relu6"] = "relu6"
    accepts_integers: ClassVar[bool] = True


class Hardtanh(_Elementwise):
    """x clamped to [min_val, max_val]."""

    op: Literal["hardtanh"] = "hardtanh"
    accepts_integers: ClassVar[bool] = True
    min_val: float = Field(-1.0, description="Lower end of the linear region.")
    max_val: float = Field(1.0, description="Upper end of the linear region.")

    @model_validator(mode="after")
    def _ordered(self) -> Hardtanh:
        if self.max_val <= self.min_val:
            raise ValueError(f"max_val ({self.max_val}) must be above min_val ({self.min_val})")
        return self


class LeakyReLU(_Elementwise):
    """x for x > 0, negative_slope * x otherwise."""

    op: Literal["leaky_relu"] = "leaky_relu"
    negative_slope: float = Field(0.01, description="Slope for negative inputs (alpha).")


class PReLU(_Elementwise):
    """Leaky ReLU with a learned slope: one shared, or one per channel (input dim 1)."""

    op: Literal["prelu"] = "prelu"
    per_channel: bool = Field(False, description=(
        "Learn one slope per channel (input dim 1, which must be a fixed size) instead of one "
        "slope shared by every element."))
    initial_slope: float = Field(0.25, description="Initial value of the slope(s).")

    def infer(self, x: TensorType) -> TensorType:
        if self.per_channel:
            if x.rank < 2:
                raise RuleError(f"per_channel needs a channel dim (N, C, *), got {x}",
                                hint="set per_channel: false for one shared slope")
            known(x.shape[1], "the channel dim")
        return super().infer(x)

    def build(self, x: TensorType) -> Build:
        return Build("torch.nn.PReLU", {"num_parameters": self.param_count(x), "init": self.initial_slope})

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        return {"weight": (x.shape[1] if self.per_channel else 1,)}


class ELU(_Elementwise):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    op: Literal["elu"] = "elu"
    alpha: float = Field(1.0, description="Scale of the negative saturation value (alpha).")


class CELU(_Elementwise):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)), ELU continuously differentiable."""

    op: Literal["celu"] = "celu"
    alpha: float = Field(1.0, gt=0, description="Scale of the negative saturation (alpha > 0).")


class SELU(_Elementwise):
    """Scaled ELU with the self-normalizing constants (use with alpha_dropout)."""

    op: Literal["selu"] = "selu"


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x))."""

    op: Literal["sigmoid"] = "sigmoid"


class Hardsigmoid(_Elementwise):
    """Piecewise-linear sigmoid: clamp(x / 6 + 1 / 2, 0, 1)."""

    op: Literal["hardsigmoid"] = "hardsigmoid"


class Tanh(_Elementwise):
    """Hyperbolic tangent."""

    op: Literal["tanh"] = "tanh"


class Tanhshrink(_Elementwise):
    """x - tanh(x)."""

    op: Literal["tanhshrink"] = "tanhshrink"


class Softsign(_Elementwise):
    """x / (1 + |x|)."""

    op: Literal["softsign"] = "softsign"


class Softplus(_Elementwise):
    """log(1 + exp(beta * x)) / beta; linear above `threshold` for numerical stability."""

    op: Literal["softplus"] = "softplus"
    beta: float = Field(1.0, gt=0, description="Sharpness: larger values approach relu.")
    threshold: float = Field(20.0, description="Above beta * x > threshold the output is x.")


class GELU(_Elementwise):
    """Gaussian error linear unit, exact or with the tanh approximation."""

    op: Literal["gelu"] = "gelu"
    approximate: Literal["none", "tanh"] = Field(
        "none", description="'none' for the exact erf form, 'tanh' for GPT-2's approximation.")


class SiLU(_Elementwise):
    """x * sigmoid(x), also called swish."""

    op: Literal["silu"] = "silu"


class Hardswish(_Elementwise):
    """x * hardsigmoid(x) (MobileNetV3)."""

    op: Literal["hardswish"] = "hardswish"


class Mish(_Elementwise):
    """x * tanh(softplus(x))."""

    op: Literal["mish"] = "mish"


class _AlongDim(_Elementwise):
    dim: int = Field(-1, description="Axis to normalize over (the batch is axis 0).")

    def infer(self, x: TensorType) -> TensorType:
        normalize_dim(self.dim, x.rank)
        return super().infer(x)


class Softmax(_AlongDim):
    """exp(x) / sum(exp(x)) along one dim."""

    op: Literal["softmax"] = "softmax"


class LogSoftmax(_AlongDim):
    """log(softmax(x)) along one dim, computed stably (pairs with the nll loss)."""

    op: Literal["log_softmax"] = "log_softmax"

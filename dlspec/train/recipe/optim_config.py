"""The spec's `optimizer:` as pydantic models (no torch), parameter groups included.

    optimizer:
      op: adamw
      lr: 1e-3
      no_decay: auto                          # biases and norm layers get no weight decay
      groups:
        - {params: "backbone.*", lr: 1e-4}    # transfer learning: a gentler backbone
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from dlspec.train.config_base import PositiveFloat, StrictConfig

Beta = Annotated[float, Field(ge=0.0, lt=1.0)]
Patterns = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class ParamGroupConfig(StrictConfig):
    """Parameters picked by name with settings of their own (every other one keeps the
    optimizer's). A parameter belongs to the first group whose pattern matches it."""

    params: Annotated[str, Field(min_length=1)] | Patterns = Field(
        description="Glob pattern(s) of parameter names, e.g. 'backbone.*'; a pattern "
                    "matches a full name like 'fc1.bias' or one of its dotted parts.")
    lr: PositiveFloat | None = Field(
        None, description="Learning rate of this group (default: the optimizer's); a "
                          "schedule scales it like the optimizer's.")
    weight_decay: float | None = Field(
        None, ge=0.0, description="Weight decay of this group (default: the optimizer's).")

    @property
    def patterns(self) -> list[str]:
        return [self.params] if isinstance(self.params, str) else list(self.params)


class OptimizerBase(StrictConfig):
    """What every optimizer shares: weight decay, the parameters exempt from it, and groups."""

    weight_decay: float = Field(
        0.0, ge=0.0, description="Weight decay: wd * w is added to the gradient (coupled "
                                 "L2; adamw instead shrinks w by lr * wd * w, decoupled).")
    no_decay: list[str] | Literal["auto"] = Field(
        default_factory=list,
        description="Parameters that get no weight decay (nor l1/l2 penalty): 'auto' for "
                    "every bias and every parameter of a normalization layer, or glob "
                    "patterns like ['*.bias', '*bn*'] ('bias' matches every bias).")
    groups: list[ParamGroupConfig] = Field(
        default_factory=list,
        description="Parameter groups with their own lr or weight_decay, matched in order.")


class SGDConfig(OptimizerBase):
    """Stochastic gradient descent, optionally with (Nesterov) momentum."""

    op: Literal["sgd"] = Field("sgd", description="Stochastic gradient descent.")
    lr: PositiveFloat = Field(description="Learning rate (required for SGD), e.g. 0.1.")
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="Momentum factor, e.g. 0.9.")
    dampening: float = Field(0.0, ge=0.0, le=1.0,
                             description="Fraction of the gradient left out of the momentum.")
    nesterov: bool = Field(False, strict=True,
                           description="Use Nesterov momentum (needs momentum > 0).")

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> SGDConfig:
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov: true needs momentum > 0 and dampening 0, "
                             "e.g. momentum: 0.9")
        return self


class AdagradConfig(OptimizerBase):
    """AdaGrad (Duchi et al., 2011): per-parameter rates from the sum of squared gradients."""

    op: Literal["adagrad"] = Field("adagrad", description="AdaGrad.")
    lr: PositiveFloat = Field(1e-2, description="Learning rate.")
    lr_decay: float = Field(0.0, ge=0.0,
                            description="The rate is lr / (1 + (step - 1) * lr_decay).")
    initial_accumulator_value: float = Field(
        0.0, ge=0.0, description="Starting value of the sum of squared gradients.")
    eps: PositiveFloat = Field(1e-10, description="Added to the denominator for stability.")


class RMSpropConfig(OptimizerBase):
    """RMSprop (Tieleman & Hinton, 2012): divide by a running RMS of the gradients."""

    op: Literal["rmsprop"] = Field("rmsprop", description="RMSprop.")
    lr: PositiveFloat = Field(1e-2, description="Learning rate.")
    alpha: Beta = Field(0.99, description="Decay rate of the running mean of squared grads.")
    eps: PositiveFloat = Field(1e-8, description="Added to the denominator for stability.")
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="Momentum factor.")
    centered: bool = Field(False, strict=True,
                           description="Divide by the running variance (the squared mean "
                                       "subtracted) instead of the mean square.")


class AdamConfig(OptimizerBase):
    """Adam (Kingma & Ba, 2015); weight decay is added to the gradient (coupled L2)."""

    op: Literal["adam"] = Field("adam", description="Adam.")
    lr: PositiveFloat = Field(1e-3, description="Learning rate.")
    betas: tuple[Beta, Beta] = Field(
        (0.9, 0.999), description="Decay rates of the first and second moment estimates.")
    eps: PositiveFloat = Field(1e-8, description="Added to the denominator for stability.")
    amsgrad: bool = Field(False, strict=True,
                          description="Use the running maximum of the second moment "
                                      "(AMSGrad, Reddi et al., 2018).")


class AdamWConfig(AdamConfig):
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay."""

    op: Literal["adamw"] = Field("adamw", description="Adam with decoupled weight decay.")
    weight_decay: float = Field(
        0.01, ge=0.0, description="Decoupled weight decay: each step shrinks w by "
                                  "lr * wd * w, apart from the gradient.")


OPTIMIZER_CLASSES: tuple[type[OptimizerBase], ...] = (
    SGDConfig, AdagradConfig, RMSpropConfig, AdamConfig, AdamWConfig)
OptimizerConfig = Annotated[
    SGDConfig | AdagradConfig | RMSpropConfig | AdamConfig | AdamWConfig,
    Field(discriminator="op"),
]

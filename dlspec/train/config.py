"""The spec's training sections as pydantic models: loss, optimizer, schedule, regularization, train.

These models ARE the schema of those sections (unknown keys are errors) and the one place that
holds their defaults. The schedule models live beside `lr_at` in schedules.py and are re-exported
here. This module must not import torch: `dlspec validate` imports it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from dlspec.errors import suggest
from dlspec.train.config_base import PositiveFloat, StrictConfig, Task
from dlspec.train.schedules import (
    ConstantSchedule,
    CosineSchedule,
    LinearWarmupSchedule,
    ScheduleConfig,
    ScheduleSpec,
    StepSchedule,
)

__all__ = [
    "AdamConfig", "AdamWConfig", "BCEWithLogitsConfig", "ConstantSchedule", "CosineSchedule",
    "CrossEntropyConfig", "EarlyStoppingConfig", "LinearWarmupSchedule", "LossConfig",
    "MAEConfig", "MSEConfig", "OptimizerConfig", "RegularizationConfig", "SGDConfig",
    "ScheduleConfig", "ScheduleSpec", "StepSchedule", "Task", "TrainConfig",
]

Beta = Annotated[float, Field(ge=0.0, lt=1.0)]

# The metrics each task can report, and those it reports when `train.metrics` is not given.
METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "f1", "precision", "recall"),
    "binary": ("accuracy", "f1", "precision", "recall", "auroc"),
    "regression": ("mae", "rmse", "r2", "mse"),
}
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy",),
    "binary": ("accuracy",),
    "regression": ("mae", "rmse", "r2"),
}
ALL_METRICS = tuple(sorted({name for names in METRICS.values() for name in names}))
HIGHER_IS_BETTER = ("acc", "r2", "f1", "precision", "recall", "auroc")


# --- losses --------------------------------------------------------------------------------


class CrossEntropyConfig(StrictConfig):
    """Softmax cross-entropy on logits (n, C) against class indices (n,)."""

    op: Literal["cross_entropy"] = Field(
        "cross_entropy", description="Multi-class cross-entropy on logits.")
    label_smoothing: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Mix the one-hot target with a uniform distribution: 0 is off, 0.1 is "
                    "a common choice.")
    class_weights: list[PositiveFloat] | None = Field(
        None, min_length=2,
        description="One weight > 0 per class, in class order, to rebalance rare classes "
                    "(the loss is their weighted mean).")


class BCEWithLogitsConfig(StrictConfig):
    """Sigmoid binary cross-entropy on logits (n, 1) against 0/1 targets (n, 1)."""

    op: Literal["bce_with_logits"] = Field(
        "bce_with_logits", description="Binary cross-entropy on logits.")
    pos_weight: PositiveFloat | None = Field(
        None, description="Weight of the positive class, e.g. (#negatives / #positives) "
                          "for imbalanced data.")


class MSEConfig(StrictConfig):
    """Mean squared error (L2) for regression."""

    op: Literal["mse"] = Field("mse", description="Mean squared error.")


class MAEConfig(StrictConfig):
    """Mean absolute error (L1) for regression."""

    op: Literal["mae"] = Field("mae", description="Mean absolute error (L1 loss).")


LossConfig = Annotated[
    CrossEntropyConfig | BCEWithLogitsConfig | MSEConfig | MAEConfig, Field(discriminator="op")
]
LOSS_TASKS: dict[str, Task] = {
    "cross_entropy": "classification", "bce_with_logits": "binary", "mse": "regression",
    "mae": "regression",
}


# --- optimizers ----------------------------------------------------------------------------


class OptimizerBase(StrictConfig):
    """What every optimizer shares: weight decay and the parameters exempt from it."""

    weight_decay: float = Field(
        0.0, ge=0.0, description="L2 penalty (decoupled for adamw) on every trainable "
                                 "parameter not matched by `no_decay`.")
    no_decay: list[str] = Field(
        default_factory=list,
        description="Glob patterns of parameter names that get no weight decay, e.g. "
                    "['*.bias', '*bn*']. A pattern matches a full name like 'fc1.bias' or "
                    "one of its dotted parts, so 'bias' matches every bias.")


class SGDConfig(OptimizerBase):
    """Stochastic gradient descent, optionally with (Nesterov) momentum."""

    op: Literal["sgd"] = Field("sgd", description="Stochastic gradient descent.")
    lr: PositiveFloat = Field(description="Learning rate (required for SGD), e.g. 0.1.")
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="Momentum factor, e.g. 0.9.")
    nesterov: bool = Field(False, strict=True,
                           description="Use Nesterov momentum (needs momentum > 0).")

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> SGDConfig:
        if self.nesterov and self.momentum <= 0:
            raise ValueError("nesterov: true needs momentum > 0, e.g. momentum: 0.9")
        return self


class AdamConfig(OptimizerBase):
    """Adam (Kingma & Ba, 2015); weight decay is added to the gradient (coupled L2)."""

    op: Literal["adam"] = Field("adam", description="Adam.")
    lr: PositiveFloat = Field(1e-3, description="Learning rate.")
    betas: tuple[Beta, Beta] = Field(
        (0.9, 0.999), description="Decay rates of the first and second moment estimates.")
    eps: PositiveFloat = Field(1e-8, description="Added to the denominator for stability.")


class AdamWConfig(AdamConfig):
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay."""

    op: Literal["adamw"] = Field("adamw", description="Adam with decoupled weight decay.")
    weight_decay: float = Field(
        0.01, ge=0.0, description="Decoupled weight decay on every trainable parameter "
                                  "not matched by `no_decay`.")


OptimizerConfig = Annotated[SGDConfig | AdamConfig | AdamWConfig, Field(discriminator="op")]


# --- regularization and training settings ---------------------------------------------------


class EarlyStoppingConfig(StrictConfig):
    """Stop when the monitored metric has not improved for `patience` epochs."""

    monitor: str = Field("val_loss", min_length=1,
                         description="Metric to watch, e.g. val_loss, val_accuracy, val_r2, "
                                     "train_loss.")
    mode: Literal["min", "max"] | None = Field(
        None, validate_default=True,
        description="Whether lower (min) or higher (max) is better. Default: max when the "
                    "monitor names accuracy, r2, f1, precision, recall or auroc, else min.")
    patience: int = Field(10, ge=1, strict=True,
                          description="Epochs without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0.0,
                             description="Smallest change that counts as an improvement.")
    restore_best: bool = Field(True, strict=True,
                               description="Load the best epoch's weights when training ends.")

    @field_validator("mode")
    @classmethod
    def _default_mode(cls, mode: str | None, info: ValidationInfo) -> str:
        return mode or default_mode(info.data.get("monitor", "val_loss"))


def default_mode(monitor: str) -> Literal["min", "max"]:
    """'max' for metrics where higher is better (accuracy, r2, f1, ...), else 'min'."""
    return "max" if any(word in monitor for word in HIGHER_IS_BETTER) else "min"


class RegularizationConfig(StrictConfig):
    """Training-time regularization (weight decay is on the optimizer, dropout is a layer)."""

    grad_clip_norm: PositiveFloat | None = Field(
        None, description="Clip the global gradient L2 norm to this value every step.")
    early_stopping: EarlyStoppingConfig | None = Field(
        None, description="Stop when a validation metric stops improving.")


class TrainConfig(StrictConfig):
    """How long and where to train, and what to measure."""

    epochs: int = Field(10, ge=1, strict=True, description="Passes over the train split.")
    seed: int = Field(0, ge=0, strict=True,
                      description="Seed of shuffling, dropout and the initial weights.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where to train; auto picks cuda when available.")
    metrics: list[str] | None = Field(
        None, description="Metrics to report on val and test: accuracy, f1, precision, "
                          "recall, auroc (classification/binary); mae, mse, rmse, r2 "
                          "(regression). Default: accuracy, or mae, rmse and r2.")
    log_every: int = Field(50, ge=0, strict=True,
                           description="Log the batch loss to TensorBoard every this many "
                                       "steps (0: per-epoch scalars only).")
    checkpoint_every: int = Field(1, ge=1, strict=True,
                                  description="Save last.safetensors every this many epochs.")

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: list[str] | None) -> list[str] | None:
        for name in names or []:
            if name not in ALL_METRICS:
                raise ValueError(f"unknown metric '{name}': {suggest(name, ALL_METRICS)}")
        if names and len(set(names)) != len(names):
            raise ValueError(f"metrics lists a name twice: {names}")
        return names


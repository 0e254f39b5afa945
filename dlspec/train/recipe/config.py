"""The spec's training sections as pydantic models: loss, optimizer, schedule, regularization, train.

These models ARE the schema of those sections (unknown keys are errors) and the one place that
holds their defaults. The loss, optimizer and schedule models live in loss_config.py,
optim_config.py and schedule_config.py and are re-exported here. This module must not import
torch: `dlspec validate` imports it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from dlspec.errors import suggest
from dlspec.train.config_base import PositiveFloat, StrictConfig, Task, default_mode
from dlspec.train.recipe.distributed_config import DistributedConfig
from dlspec.train.recipe.loss_config import (
    LOSS_TASKS,
    BCEWithLogitsConfig,
    CrossEntropyConfig,
    LossConfig,
    LossSpec,
    MAEConfig,
    MSEConfig,
    implied_task,
    loss_terms,
)
from dlspec.train.recipe.optim_config import (
    AdagradConfig,
    AdamConfig,
    AdamWConfig,
    OptimizerConfig,
    ParamGroupConfig,
    RMSpropConfig,
    SGDConfig,
)
from dlspec.train.recipe.schedule_config import (
    ConstantSchedule,
    CosineSchedule,
    LinearWarmupSchedule,
    ScheduleConfig,
    ScheduleSpec,
    StepSchedule,
)
from dlspec.train.recipe.transfer_config import InitFromConfig

__all__ = [
    "LOSS_TASKS", "AdagradConfig", "AdamConfig", "AdamWConfig", "BCEWithLogitsConfig",
    "ConstantSchedule", "CosineSchedule", "CrossEntropyConfig", "DistributedConfig",
    "EarlyStoppingConfig",
    "InitFromConfig", "LinearWarmupSchedule", "LossConfig", "LossSpec", "MAEConfig",
    "MSEConfig", "OptimizerConfig", "ParamGroupConfig", "RMSpropConfig",
    "RegularizationConfig", "SGDConfig", "ScheduleConfig", "ScheduleSpec", "StepSchedule",
    "Task", "TrainConfig", "default_mode", "implied_task", "loss_terms",
]

# The metrics each task can report, and those it reports when `train.metrics` is not given.
# confusion_matrix is measured once, on the test split (confusion_matrix.json in the run).
_CLASS_METRICS = ("accuracy", "f1", "precision", "recall", "auroc", "confusion_matrix")
METRICS: dict[str, tuple[str, ...]] = {
    "classification": _CLASS_METRICS,
    "binary": _CLASS_METRICS,
    "multilabel": _CLASS_METRICS,
    "regression": ("mae", "rmse", "r2", "mse"),
    "tagging": ("accuracy", "f1", "precision", "recall", "perplexity", "confusion_matrix"),
    "language_model": ("perplexity", "accuracy"),
}
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy",),
    "binary": ("accuracy",),
    "multilabel": ("accuracy", "f1"),
    "regression": ("mae", "rmse", "r2"),
    "tagging": ("accuracy",),
    "language_model": ("perplexity", "accuracy"),
}
ALL_METRICS = tuple(sorted({name for names in METRICS.values() for name in names}))


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


class RegularizationConfig(StrictConfig):
    """Training-time regularization (weight decay is on the optimizer, dropout is a layer)."""

    l1: float = Field(0.0, ge=0.0,
                      description="L1 penalty: l1 * sum(|w|) is added to the minimized loss, "
                                  "over the parameters that get weight decay.")
    l2: float = Field(0.0, ge=0.0,
                      description="L2 penalty: l2 / 2 * sum(w ** 2) is added to the minimized "
                                  "loss (a gradient of l2 * w, which Adam then rescales, "
                                  "unlike adamw's decoupled weight_decay).")
    grad_clip_value: PositiveFloat | None = Field(
        None, description="Clip every gradient element to [-value, value] every step "
                          "(before grad_clip_norm).")
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
                          "recall, auroc, confusion_matrix (classification, binary, "
                          "multilabel; tagging without auroc but with perplexity); mae, mse, "
                          "rmse, r2 (regression); perplexity, accuracy (language_model). "
                          "Default: accuracy (+ f1 for multilabel, perplexity for "
                          "language_model), or mae, rmse and r2.")
    log_every: int = Field(50, ge=0, strict=True,
                           description="Log the batch loss to TensorBoard every this many "
                                       "steps (0: per-epoch scalars only).")
    checkpoint_every: int = Field(1, ge=1, strict=True,
                                  description="Save last.safetensors and the resume state "
                                              "every this many epochs.")
    checkpoint_every_steps: int | None = Field(
        None, ge=1, strict=True,
        description="Also save the resume state every this many optimizer steps, inside "
                    "epochs (for long epochs; `dlspec train --resume` continues from it).")
    max_nonfinite_steps: int = Field(
        5, ge=1, strict=True,
        description="Steps with a NaN/inf loss or gradient are skipped (no update); after "
                    "this many in a row training stops with an error.")
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="fp32; bf16 autocast (CPU or CUDA); fp16 autocast with loss "
                            "scaling (CUDA only).")
    accumulate: int = Field(
        1, ge=1, strict=True,
        description="Gradient accumulation: each optimizer step sums the gradients of this "
                    "many batches, so the effective batch is accumulate * batch_size.")
    compile: bool = Field(False, strict=True,
                          description="Compile the model with torch.compile before training.")
    init_from: InitFromConfig | None = Field(
        None, description="Initialize (part of) the model from a checkpoint before training.")
    freeze: list[str] = Field(
        default_factory=list,
        description="Glob patterns of parameter names to freeze (not trained), e.g. "
                    "['stem*', 'res1.*']; a pattern matching no parameter is an error.")
    distributed: DistributedConfig = Field(
        default_factory=DistributedConfig,
        description="How several processes (torchrun, `dlspec train --nproc N`) share the "
                    "run: strategy ddp (the default) or fsdp, the backend. data.batch_size "
                    "stays the global batch.")

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: list[str] | None) -> list[str] | None:
        for name in names or []:
            if name not in ALL_METRICS:
                raise ValueError(f"unknown metric '{name}': {suggest(name, ALL_METRICS)}")
        if names and len(set(names)) != len(names):
            raise ValueError(f"metrics lists a name twice: {names}")
        return names

    @field_validator("distributed")
    @classmethod
    def _distributed_fits_the_run(cls, distributed: DistributedConfig,
                                  info: ValidationInfo) -> DistributedConfig:
        """The backend fits the device, the strategy the precision."""
        if distributed.backend == "nccl" and info.data.get("device") == "cpu":
            raise ValueError("backend nccl needs CUDA, but train.device is cpu; use gloo "
                             "(or auto, which picks gloo on the CPU)")
        if distributed.strategy == "fsdp" and info.data.get("precision") == "fp16":
            raise ValueError("strategy fsdp cannot train with precision fp16: its loss "
                             "scaler would check each process's shard of the gradients on "
                             "its own, and the processes would disagree on skipping a step; "
                             "use precision bf16 (no loss scaler) or strategy ddp")
        return distributed

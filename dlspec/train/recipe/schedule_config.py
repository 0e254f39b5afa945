"""The spec's `schedule:` as pydantic models (no torch); `lr_at` in schedules.py defines them.

A schedule is one entry, or a list of a leading `linear_warmup` and one other entry. The
optimizer's lr is the schedule's base (its peak for one_cycle and cyclic). `interval` says
whether a schedule's clock, and the counts it is given (step_size, milestones, ...), tick per
optimizer step or per epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from dlspec.train.config_base import PositiveFloat, StrictConfig, default_mode

Interval = Literal["step", "epoch"]
Count = Annotated[int, Field(ge=1, strict=True)]
Factor = Annotated[float, Field(gt=0.0, lt=1.0)]


def interval_field(default: Interval):
    return Field(default, description="Clock of the schedule: 'step' (every optimizer step) "
                                      "or 'epoch' (the rate changes at epoch starts only); "
                                      "its counts are in this unit.")


class ConstantSchedule(StrictConfig):
    """Keep the optimizer's learning rate."""

    op: Literal["constant"] = Field("constant", description="Constant learning rate.")


class StepSchedule(StrictConfig):
    """Multiply the learning rate by `gamma` every `step_size` intervals."""

    op: Literal["step"] = Field(
        "step", description="Step decay: lr * gamma ** floor(t / step_size).")
    step_size: Count = Field(description="Intervals between two decays.")
    gamma: PositiveFloat = Field(0.1, description="Factor applied at each decay.")
    interval: Interval = interval_field("epoch")


class MultiStepSchedule(StrictConfig):
    """Multiply the learning rate by `gamma` at each milestone."""

    op: Literal["multi_step"] = Field(
        "multi_step", description="Decay at milestones: lr * gamma ** (milestones passed).")
    milestones: Annotated[list[Count], Field(min_length=1)] = Field(
        description="Increasing interval counts where the rate drops, e.g. [30, 60, 90].")
    gamma: PositiveFloat = Field(0.1, description="Factor applied at each milestone.")
    interval: Interval = interval_field("epoch")

    @field_validator("milestones")
    @classmethod
    def _increasing(cls, milestones: list[int]) -> list[int]:
        if any(b <= a for a, b in zip(milestones, milestones[1:], strict=False)):
            raise ValueError(f"milestones must be strictly increasing, got {milestones}")
        return milestones


class ExponentialSchedule(StrictConfig):
    """Multiply the learning rate by `gamma` every interval."""

    op: Literal["exponential"] = Field("exponential", description="lr * gamma ** t.")
    gamma: PositiveFloat = Field(description="Factor per interval, e.g. 0.95.")
    interval: Interval = interval_field("epoch")


class CosineSchedule(StrictConfig):
    """Cosine annealing from the optimizer's lr to `min_lr` over the run (after warmup)."""

    op: Literal["cosine"] = Field("cosine", description="Cosine annealing over the whole run.")
    min_lr: float = Field(0.0, ge=0.0, description="Learning rate at the end of the run.")
    interval: Interval = interval_field("step")


class LinearSchedule(StrictConfig):
    """Linear decay from the optimizer's lr to `end_factor` * lr over the run (after warmup)."""

    op: Literal["linear"] = Field("linear", description="Linear decay over the whole run.")
    end_factor: float = Field(0.0, ge=0.0, le=1.0,
                              description="Fraction of lr reached at the end of the run.")
    interval: Interval = interval_field("step")


class OneCycleSchedule(StrictConfig):
    """One-cycle policy (Smith, 2018): up from lr / div_factor to lr, then down to
    lr / div_factor / final_div_factor, over the run. Momentum is not cycled."""

    op: Literal["one_cycle"] = Field("one_cycle", description="One-cycle policy; lr is the peak.")
    pct_start: Factor = Field(0.3, description="Fraction of the run spent going up.")
    div_factor: PositiveFloat = Field(25.0, description="The start is lr / div_factor.")
    final_div_factor: PositiveFloat = Field(
        1e4, description="The end is lr / div_factor / final_div_factor.")
    anneal: Literal["cos", "linear"] = Field("cos", description="Shape of each phase.")
    three_phase: bool = Field(False, strict=True,
                              description="Go back down to the start before the final "
                                          "descent (fast.ai's variant).")
    interval: Interval = interval_field("step")


class CyclicSchedule(StrictConfig):
    """Cyclical learning rate (Smith, 2017) between `min_lr` and the optimizer's lr."""

    op: Literal["cyclic"] = Field("cyclic", description="Cyclical rate; lr is the top.")
    min_lr: float = Field(ge=0.0, description="Bottom of the cycle.")
    step_size_up: Count = Field(description="Intervals from the bottom to the top.")
    step_size_down: Count | None = Field(
        None, description="Intervals from the top back down (default: step_size_up).")
    mode: Literal["triangular", "triangular2", "exp_range"] = Field(
        "triangular", description="triangular: same height every cycle; triangular2: half "
                                  "the height each cycle; exp_range: height * gamma ** t.")
    gamma: PositiveFloat = Field(1.0, le=1.0, description="Decay per interval for exp_range.")
    interval: Interval = interval_field("step")


class ReduceOnPlateauSchedule(StrictConfig):
    """Multiply the rate by `factor` when `monitor` has not improved for `patience` epochs."""

    op: Literal["reduce_on_plateau"] = Field(
        "reduce_on_plateau", description="Lower the rate when a metric stops improving.")
    monitor: str = Field("val_loss", min_length=1,
                         description="Metric checked after every epoch, e.g. val_loss.")
    mode: Literal["min", "max"] | None = Field(
        None, validate_default=True,
        description="Whether lower (min) or higher (max) is better. Default: max for "
                    "accuracy, r2, f1, precision, recall and auroc, else min.")
    factor: Factor = Field(0.1, description="Factor applied at each reduction.")
    patience: int = Field(10, ge=0, strict=True,
                          description="Epochs without improvement before a reduction.")
    threshold: float = Field(1e-4, ge=0.0, description="Smallest change that counts as an "
                                                       "improvement.")
    threshold_mode: Literal["rel", "abs"] = Field(
        "rel", description="rel: the change is relative to the best value; abs: absolute.")
    cooldown: int = Field(0, ge=0, strict=True,
                          description="Epochs to wait after a reduction before counting.")
    min_lr: float = Field(0.0, ge=0.0, description="The rate never goes below this.")

    @field_validator("mode")
    @classmethod
    def _default_mode(cls, mode: str | None, info: ValidationInfo) -> str:
        return mode or default_mode(info.data.get("monitor", "val_loss"))


class LinearWarmupSchedule(StrictConfig):
    """Ramp the learning rate linearly from `start_factor` * lr up to lr, every step."""

    op: Literal["linear_warmup"] = Field(
        "linear_warmup", description="Linear warmup; list it first.")
    steps: int | None = Field(None, ge=1, strict=True,
                              description="Warmup length in optimizer steps.")
    epochs: int | None = Field(None, ge=1, strict=True,
                               description="Warmup length in epochs (instead of steps).")
    start_factor: float = Field(0.0, ge=0.0, le=1.0,
                                description="Fraction of lr at the first step.")

    @model_validator(mode="after")
    def _one_length(self) -> LinearWarmupSchedule:
        given = [k for k in ("steps", "epochs") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("linear_warmup needs exactly one of `steps` or `epochs`, "
                             f"got {' and '.join(given) or 'neither'}")
        return self


SCHEDULE_CLASSES: tuple[type[StrictConfig], ...] = (
    ConstantSchedule, StepSchedule, MultiStepSchedule, ExponentialSchedule, CosineSchedule,
    LinearSchedule, OneCycleSchedule, CyclicSchedule, ReduceOnPlateauSchedule,
    LinearWarmupSchedule,
)
ScheduleConfig = Annotated[
    ConstantSchedule | StepSchedule | MultiStepSchedule | ExponentialSchedule | CosineSchedule
    | LinearSchedule | OneCycleSchedule | CyclicSchedule | ReduceOnPlateauSchedule
    | LinearWarmupSchedule,
    Field(discriminator="op"),
]


def check_schedule_list(schedules: Sequence) -> Sequence:
    """A schedule list holds at most one warmup, listed first, and at most one other entry."""
    if not schedules:
        raise ValueError("the schedule list is empty; give one schedule or leave it out")
    warmups = [i for i, s in enumerate(schedules) if s.op == "linear_warmup"]
    if len(warmups) > 1:
        raise ValueError("the schedule list has more than one linear_warmup; keep one")
    if warmups and warmups[0] != 0:
        raise ValueError("linear_warmup must come first in the schedule list, "
                         "e.g. [{op: linear_warmup, steps: 500}, {op: cosine}]")
    if len(schedules) - len(warmups) > 1:
        ops = ", ".join(s.op for s in schedules if s.op != "linear_warmup")
        raise ValueError(f"the schedule list combines {ops}; use at most one schedule "
                         "besides a leading linear_warmup")
    return schedules


# What a spec's `schedule:` holds: one schedule, or a list [warmup, schedule].
ScheduleSpec = ScheduleConfig | Annotated[list[ScheduleConfig], AfterValidator(check_schedule_list)]

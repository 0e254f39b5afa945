"""Learning-rate schedules: their spec models and ONE pure function, `lr_at`, that defines them.

`lr_at` is plain arithmetic (no torch). Training applies it every optimizer step through
`torch.optim.lr_scheduler.LambdaLR` (see `make_lr_scheduler`), so what a test checks against
the formulas is exactly what the optimizer sees. Composition rule: a leading linear warmup
multiplies the other schedule; cosine anneals over the steps after the warmup, while step
decay counts epochs from the start of the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from dlspec.train.config_base import PositiveFloat, StrictConfig

if TYPE_CHECKING:
    import torch


class ConstantSchedule(StrictConfig):
    """Keep the optimizer's learning rate."""

    op: Literal["constant"] = Field("constant", description="Constant learning rate.")


class StepSchedule(StrictConfig):
    """Multiply the learning rate by `gamma` every `step_size` epochs."""

    op: Literal["step"] = Field(
        "step", description="Step decay: lr * gamma ** (epoch // step_size).")
    step_size: int = Field(ge=1, strict=True, description="Epochs between two decays.")
    gamma: PositiveFloat = Field(0.1, description="Factor applied at each decay.")


class CosineSchedule(StrictConfig):
    """Cosine annealing from the optimizer's lr to `min_lr` over the run (after warmup)."""

    op: Literal["cosine"] = Field("cosine", description="Cosine annealing over the whole run.")
    min_lr: float = Field(0.0, ge=0.0, description="Learning rate at the end of the run.")


class LinearWarmupSchedule(StrictConfig):
    """Ramp the learning rate linearly from `start_factor` * lr up to lr."""

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


ScheduleConfig = Annotated[
    ConstantSchedule | StepSchedule | CosineSchedule | LinearWarmupSchedule,
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


def warmup_length(schedules: Sequence, steps_per_epoch: int) -> int:
    """Warmup length in optimizer steps (0 without a warmup)."""
    for schedule in schedules:
        if schedule.op == "linear_warmup":
            return schedule.steps or schedule.epochs * steps_per_epoch
    return 0


def lr_at(step: int, steps_per_epoch: int, total_steps: int, base_lr: float,
          schedules: Sequence) -> float:
    """The learning rate for optimizer step `step` (0-based) of a run of `total_steps` steps.

    constant: base_lr
    step:     base_lr * gamma ** floor(epoch / step_size), epoch = floor(step / steps_per_epoch)
    cosine:   min_lr + (base_lr - min_lr) * (1 + cos(pi * t / T)) / 2, with t = step - W and
              T = total_steps - W after a warmup of W steps (t is clamped to [0, T])
    warmup:   times start_factor + (1 - start_factor) * step / W while step < W
    """
    warmup = warmup_length(schedules, steps_per_epoch)
    main = next((s for s in schedules if s.op != "linear_warmup"), None)
    lr = base_lr
    if main is not None and main.op == "step":
        lr = base_lr * main.gamma ** (step // steps_per_epoch // main.step_size)
    elif main is not None and main.op == "cosine":
        span = max(total_steps - warmup, 1)
        t = min(max(step - warmup, 0), span)
        lr = main.min_lr + (base_lr - main.min_lr) * (1 + math.cos(math.pi * t / span)) / 2
    if step < warmup:
        start = schedules[0].start_factor
        lr *= start + (1.0 - start) * step / warmup
    return lr


def make_lr_scheduler(optimizer: torch.optim.Optimizer, schedules: Sequence,
                      steps_per_epoch: int, total_steps: int):
    """A LambdaLR stepping `lr_at` once per optimizer step, or None for a constant rate."""
    if all(s.op == "constant" for s in schedules):
        return None
    from torch.optim.lr_scheduler import LambdaLR

    base_lr = optimizer.param_groups[0]["lr"]

    def factor(step: int) -> float:
        return lr_at(step, steps_per_epoch, total_steps, base_lr, schedules) / base_lr

    return LambdaLR(optimizer, factor)

"""The schedule at work during training: `LrScheduler` sets the optimizer's rates from `lr_at`
every optimizer step; `reduce_on_plateau`, the one schedule that depends on the run,
multiplies that curve by the reductions `Plateau` decides at the end of each epoch."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dlspec.errors import Diagnostic, TrainError, suggest
from dlspec.train.recipe.schedule_config import ReduceOnPlateauSchedule
from dlspec.train.recipe.schedules import lr_at, main_schedule

if TYPE_CHECKING:
    import torch


class Plateau:
    """reduce_on_plateau's state: torch's ReduceLROnPlateau rule, fed one value per epoch."""

    def __init__(self, config: ReduceOnPlateauSchedule):
        self.config = config
        self.best = math.inf if config.mode == "min" else -math.inf
        self.bad_epochs = 0
        self.cooldown = 0
        self.reductions = 0

    def improved(self, value: float) -> bool:
        c, sign = self.config, (1.0 if self.config.mode == "min" else -1.0)
        if c.threshold_mode == "rel":
            return sign * value < sign * self.best * (1 - sign * c.threshold)
        return sign * value < sign * self.best - c.threshold

    def update(self, value: float) -> None:
        """Count one epoch with the monitored `value` (NaN never improves)."""
        if self.improved(value):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        if self.cooldown > 0:
            self.cooldown -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.config.patience:
            self.reductions += 1
            self.cooldown, self.bad_epochs = self.config.cooldown, 0

    def apply(self, lr: float) -> float:
        """The rate after the reductions so far, never below min_lr."""
        if not self.reductions:
            return lr
        return max(lr * self.config.factor ** self.reductions, self.config.min_lr)

    def state_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("best", "bad_epochs", "cooldown", "reductions")}

    def load_state_dict(self, state: Mapping[str, float]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


class LrScheduler:
    """Sets every parameter group's lr each optimizer step: the group's own lr times
    lr_at(step) / the optimizer's lr, times the plateau reductions.

    The loop calls `step()` after every optimizer step and `epoch_end(record)` once per epoch
    with the epoch's metrics (only reduce_on_plateau reads them).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedules: Sequence,
                 steps_per_epoch: int, total_steps: int):
        self.optimizer, self.schedules = optimizer, tuple(schedules)
        self.steps_per_epoch, self.total_steps = steps_per_epoch, total_steps
        self.base_lr = float(optimizer.defaults["lr"])
        self.group_lrs = [float(group["lr"]) for group in optimizer.param_groups]
        main = main_schedule(self.schedules)
        self.plateau = Plateau(main) if main is not None and main.op == "reduce_on_plateau" \
            else None
        self.step_count = 0
        self._apply()

    def lr(self) -> float:
        """The optimizer-level rate at the current step."""
        lr = lr_at(self.step_count, self.steps_per_epoch, self.total_steps, self.base_lr,
                   self.schedules)
        return self.plateau.apply(lr) if self.plateau else lr

    def _apply(self) -> None:
        scale = self.lr() / self.base_lr
        for group, group_lr in zip(self.optimizer.param_groups, self.group_lrs, strict=True):
            group["lr"] = group_lr * scale

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def epoch_end(self, metrics: Mapping[str, Any]) -> None:
        """Feed the epoch's metrics (e.g. {'val_loss': 0.3, ...}) to reduce_on_plateau."""
        if self.plateau is None:
            return
        monitor = self.plateau.config.monitor
        if monitor not in metrics:
            names = [k for k in metrics if k.startswith(("train_", "val_"))]
            raise TrainError(Diagnostic(
                "DLS102", f"reduce_on_plateau monitors '{monitor}', which this run does not "
                          "report", hint=f"{suggest(monitor, names)} (val_* needs a "
                                         "validation split)"))
        self.plateau.update(float(metrics[monitor]))
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {"step_count": self.step_count, "group_lrs": list(self.group_lrs),
                "plateau": self.plateau.state_dict() if self.plateau else None}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.step_count = int(state["step_count"])
        self.group_lrs = [float(lr) for lr in state["group_lrs"]]
        if self.plateau is not None and state.get("plateau") is not None:
            self.plateau.load_state_dict(state["plateau"])
        self._apply()


def make_lr_scheduler(optimizer: torch.optim.Optimizer, schedules: Sequence,
                      steps_per_epoch: int, total_steps: int) -> LrScheduler | None:
    """The scheduler of `schedules` for `optimizer`, or None for a constant rate."""
    if all(s.op == "constant" for s in schedules):
        return None
    return LrScheduler(optimizer, schedules, steps_per_epoch, total_steps)

"""Tracking the monitored metric: the best epoch, and when early stopping should stop."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from dlspec.errors import Diagnostic, TrainError, suggest
from dlspec.train.recipe.config import EarlyStoppingConfig, default_mode


@dataclass
class Monitor:
    """Follows one metric epoch by epoch.

    An epoch improves on the best so far when its value is finite and better by more than
    `min_delta` (lower for mode 'min', higher for 'max'). With a `patience`, `should_stop`
    turns true after `patience` epochs in a row without improvement.
    """

    name: str
    mode: Literal["min", "max"]
    min_delta: float = 0.0
    patience: int | None = None
    best: float | None = None
    best_epoch: int = 0
    waited: int = 0

    def improves(self, value: float) -> bool:
        """Whether `value` would be a new best."""
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, epoch: int, value: float) -> bool:
        """Record an epoch's value; returns whether it is the new best."""
        if self.improves(value):
            self.best, self.best_epoch, self.waited = value, epoch, 0
            return True
        self.waited += 1
        return False

    @property
    def should_stop(self) -> bool:
        """Whether `patience` epochs in a row went without improvement."""
        return self.patience is not None and self.waited >= self.patience


LATEST = Monitor(name="epoch", mode="max")  # every epoch improves: the best is the last


def make_monitor(early_stopping: EarlyStoppingConfig | None, available: list[str],
                 has_val: bool, loss_ranks: bool = True) -> Monitor:
    """The monitor for a run: early stopping's metric, else val_loss (train_loss without val);
    else, when the objective's loss does not rank its models (`loss_ranks` false: a GAN's
    losses say how its two models stand against each other), the latest epoch.

    Raises TrainError when early stopping names a metric the run does not compute.
    """
    if early_stopping is None and not loss_ranks:
        return Monitor(name=LATEST.name, mode=LATEST.mode)
    if early_stopping is None:
        name = "val_loss" if has_val else "train_loss"
        return Monitor(name=name, mode=default_mode(name))
    if early_stopping.monitor not in available:
        hint = suggest(early_stopping.monitor, available)
        if early_stopping.monitor.startswith("val_") and not has_val:
            hint = "the val split is empty: give data.split a val fraction, or monitor train_loss"
        raise TrainError(Diagnostic(
            "DLS102", f"early_stopping monitors '{early_stopping.monitor}', which this run "
                      "does not compute", hint=hint))
    return Monitor(name=early_stopping.monitor, mode=early_stopping.mode,
                   min_delta=early_stopping.min_delta, patience=early_stopping.patience)

"""Non-finite losses and gradients: skip the step, count, and stop with the likely cause."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlspec.errors import Diagnostic, TrainError

GREW = 1.5  # the loss "grew" when its last finite value exceeds its lowest by this factor


class NonFiniteGuard:
    """Counts steps whose loss or gradients were NaN/inf (they were skipped: no update).

    `observe` is told about every step; after `limit` bad steps in a row it raises TrainError
    DLS403 naming the epoch and step and the likely cause: non-finite values in the train
    data (checked by `data_is_finite`), a learning rate that is too high (the loss grew
    before it broke), or an op of the model (then --detect-anomaly names it).
    """

    def __init__(self, limit: int, data_is_finite: Callable[[], bool], last_checkpoint: Path):
        self.limit = limit
        self.data_is_finite = data_is_finite
        self.last_checkpoint = last_checkpoint
        self.in_a_row = 0
        self.total = 0
        self.lowest: float | None = None  # lowest finite step loss so far
        self.last: float | None = None  # last finite step loss

    def observe(self, loss: float, finite: bool, epoch: int, step: int, lr: float) -> None:
        """Record a step; raise when `limit` steps in a row were not finite."""
        if finite:
            self.in_a_row = 0
            self.last = loss
            self.lowest = loss if self.lowest is None else min(self.lowest, loss)
            return
        self.in_a_row += 1
        self.total += 1
        if self.in_a_row >= self.limit:
            raise self.error(loss, epoch, step, lr)

    def error(self, loss: float, epoch: int, step: int, lr: float) -> TrainError:
        """DLS403 for the bad streak that ended at `step`."""
        first = step - self.in_a_row + 1
        what = "loss" if not math.isfinite(loss) else "gradients"
        steps = f"steps {first}-{step}" if self.in_a_row > 1 else f"step {step}"
        return TrainError(Diagnostic(
            "DLS403", f"the training {what} stayed non-finite for {self.in_a_row} "
                      f"step{'s' if self.in_a_row > 1 else ''} in a row (epoch {epoch}, "
                      f"{steps}; the last loss was {loss}); skipped without an update",
            hint=self.cause(lr) + self._kept()))

    def cause(self, lr: float) -> str:
        """The likely cause, in words."""
        if not self.data_is_finite():
            return ("the train data holds NaN or inf values (check the data file and "
                    "data.missing)")
        if self.last is not None and self.lowest is not None and self.last > GREW * self.lowest:
            return (f"the loss grew from {self.lowest:.4g} to {self.last:.4g} before it broke: "
                    f"the learning rate is probably too high (lr={lr:.3g}; try 10x lower, or "
                    "`dlspec lr-find`); gradient clipping (regularization.grad_clip_norm) "
                    "can help")
        return ("an op of the model produced NaN/inf (e.g. log or sqrt of a negative, a "
                "division by zero, or an overflow after an update too large for lr="
                f"{lr:.3g}); run with --detect-anomaly to name the op")

    def _kept(self) -> str:
        if self.last_checkpoint.exists():
            return f"; the last good checkpoint is {self.last_checkpoint}"
        return ""

    def state_dict(self) -> dict[str, Any]:
        """The counters, for a resume checkpoint."""
        return {"in_a_row": self.in_a_row, "total": self.total, "lowest": self.lowest,
                "last": self.last}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        self.in_a_row, self.total = state["in_a_row"], state["total"]
        self.lowest, self.last = state["lowest"], state["last"]

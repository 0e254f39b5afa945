"""`dlspec train --resume RUN --epochs N`: more epochs for a finished or stopped run.

The run goes on from its last resume checkpoint as if it had been started with N epochs:
the data order, dropout and the optimizer continue exactly, so where the learning-rate
schedule does not depend on the run's length (constant, step, multi_step, exponential,
reduce_on_plateau, cyclic, a warmup) a 3-epoch run extended to 5 ends with the weights and
metrics of an uninterrupted 5-epoch run. The schedules shaped over the whole run (cosine,
linear, one_cycle) are planned again over the N epochs, from the step the run has reached:
the rate jumps there (a warm restart for cosine), and a note says from what to what; such
an extension does not equal an uninterrupted N-epoch run. A run stopped by early stopping
is not extended (it would stop again). Torch-free.
"""

from __future__ import annotations

from typing import Any

from dlspec.errors import Diagnostic, TrainError
from dlspec.train.recipe.schedules import lr_at, main_schedule

SHAPED_OVER_THE_RUN = ("cosine", "linear", "one_cycle")


def extension_notes(run: Any, epochs_done: int, step: int, planned: int) -> list[str]:
    """Check that the run can be extended from `planned` to `run.recipe.train.epochs`
    epochs, having finished `epochs_done` epochs and `step` steps; the notes to print."""
    epochs = run.recipe.train.epochs
    if epochs <= epochs_done:
        raise TrainError(Diagnostic(
            "DLS403", f"--epochs {epochs} does not extend the run in {run.files.root}: it "
                      f"has finished {epochs_done} epochs",
            hint=f"give more epochs than {epochs_done}, e.g. --epochs {epochs_done + 5}"))
    if run.monitor.should_stop:
        raise TrainError(Diagnostic(
            "DLS403", f"the run in {run.files.root} was stopped by early stopping "
                      f"({run.monitor.name} did not improve for {run.monitor.patience} "
                      "epochs): more epochs would stop at once",
            hint="start a new run with more patience (regularization.early_stopping)"))
    change = "extending" if epochs > planned else "shortening"
    notes = [f"{change} the run from {planned} to {epochs} epochs"]
    main = main_schedule(run.recipe.schedule)
    if main is not None and main.op in SHAPED_OVER_THE_RUN:
        per_epoch, base = run.plan.steps_per_epoch, float(run.optimizer.defaults["lr"])
        before = lr_at(step, per_epoch, planned * per_epoch, base, run.recipe.schedule)
        after = lr_at(step, per_epoch, epochs * per_epoch, base, run.recipe.schedule)
        notes.append(f"note: the {main.op} schedule is planned over the run's length: from "
                     f"step {step} it follows the {epochs}-epoch curve (lr {before:.3g} -> "
                     f"{after:.3g}), so the result differs from an uninterrupted "
                     f"{epochs}-epoch run")
    return notes

"""`dlspec schedule`: the learning rate at every optimizer step of a spec's run, as a table of
milestones and a plot, computed from the spec alone with `lr_at` (no torch; the train split's
size comes from the data's static facts, so built-in datasets are not loaded)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from dlspec.data.config import DataConfig
from dlspec.errors import Diagnostic, SourceSpan, SpecError
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.schedules import lr_at, main_schedule, warmup_length

PLOT_SIZE = (8.0, 4.5)  # inches; at plot.DPI (100) an 800 x 450 pixel image


def steps_per_epoch(samples: int, step_samples: int) -> int:
    """Optimizer steps in an epoch of `samples` in steps of `step_samples` (batch size times
    accumulation); a last step of one sample joins the one before, as training does."""
    steps = math.ceil(samples / step_samples)
    last = samples - (steps - 1) * step_samples
    return steps - 1 if steps > 1 and last == 1 else steps


@dataclass(frozen=True)
class LrCurve:
    """The rate of every optimizer step of a run, and the run's length."""

    samples: int  # in the train split
    step_samples: int  # batch size times accumulation
    epochs: int
    steps_per_epoch: int
    schedules: tuple
    lrs: tuple[float, ...]

    @property
    def total_steps(self) -> int:
        return len(self.lrs)

    def headline(self) -> str:
        text = (f"{self.epochs} epochs x {self.steps_per_epoch} steps = {self.total_steps} "
                f"optimizer steps ({self.samples} train samples, {self.step_samples} per step)")
        main = main_schedule(self.schedules)
        if main is not None and main.op == "reduce_on_plateau":
            text += (f"; reduce_on_plateau multiplies the rate by {main.factor} when "
                     f"{main.monitor} stalls, which only training can tell: shown without "
                     "reductions")
        return text

    def milestones(self) -> list[tuple[int, str]]:
        """(step, what) for the start, warmup end, peak, quarters of the run and its end."""
        total = self.total_steps
        marks = {0: ["start"]}
        warmup = warmup_length(self.schedules, self.steps_per_epoch)
        if 0 < warmup < total:
            marks.setdefault(warmup, []).append("warmup done")
        for quarter in (1, 2, 3):
            marks.setdefault(total * quarter // 4, []).append(f"{25 * quarter}% of the run")
        marks.setdefault(max(range(total), key=self.lrs.__getitem__), []).append("peak")
        marks.setdefault(total - 1, []).append("end")
        return [(step, ", ".join(marks[step])) for step in sorted(marks)]


def spec_lr_curve(checked) -> LrCurve:
    """The learning-rate curve of a checked spec's run (SpecError DLS103 without `data:`,
    which the steps per epoch come from)."""
    from dlspec.api import recipe_for

    data = checked.spec.data
    if data is None:
        raise SpecError(Diagnostic(
            "DLS103", "the learning-rate curve needs a `data:` section to count the optimizer "
                      "steps per epoch", SourceSpan(str(checked.loaded.path), 1, 1),
            hint="add e.g. `data: {dataset: digits, batch_size: 64}`"))
    return lr_curve(recipe_for(checked), data, checked.loaded.base_dir)


def lr_curve(recipe: Recipe, data: DataConfig, base_dir: Path) -> LrCurve:
    """The run's learning-rate curve under `recipe`, with the steps per epoch of `data`."""
    from dlspec.data.describe import describe_data
    from dlspec.data.split import split_sizes

    info = describe_data(data, base_dir)
    samples = split_sizes(info.n_samples or 0, data.split)[0]
    step_samples = recipe.batch_size * recipe.train.accumulate
    per_epoch = steps_per_epoch(samples, step_samples)
    total = per_epoch * recipe.train.epochs
    lrs = tuple(lr_at(step, per_epoch, total, recipe.optimizer.lr, recipe.schedule)
                for step in range(total))
    return LrCurve(samples, step_samples, recipe.train.epochs, per_epoch,
                   tuple(recipe.schedule), lrs)


def summary_table(curve: LrCurve, title: str = "learning rate") -> Table:
    """A rich table of the curve's milestones: step, epoch, rate."""
    table = Table(title=title)
    for column in ("step", "epoch", "lr", "milestone"):
        table.add_column(column, justify="left" if column == "milestone" else "right")
    for step, what in curve.milestones():
        epoch = step // curve.steps_per_epoch + 1
        table.add_row(str(step), str(epoch), format_lr(curve.lrs[step]), what)
    return table


def format_lr(lr: float) -> str:
    return f"{lr:.6g}"


def plot_curve(curve: LrCurve, path: Path, title: str = "learning rate") -> None:
    """Draw the rate over the optimizer steps into a PNG at `path` (written atomically)."""
    from dlspec.train.diagnostics.plot import figure

    with figure(path, PLOT_SIZE) as (_, axes):
        axes.plot(range(curve.total_steps), curve.lrs, linewidth=1.5)
        axes.set_xlabel(f"optimizer step ({curve.steps_per_epoch} per epoch)")
        axes.set_ylabel("learning rate")
        axes.set_title(title)
        axes.set_xlim(0, max(curve.total_steps - 1, 1))
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)

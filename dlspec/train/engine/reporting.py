"""Where a run's numbers go: metrics.csv, grad_norms.csv, TensorBoard and the console (rich).

TensorBoard scalars are all logged against the global optimizer step (per-epoch values at
the epoch's last step), so a resumed run can drop what a crashed run logged after its last
checkpoint (`purge_step`). The TensorBoard event file is opened at the first scalar logged
(and a resumed run's metrics.csv rewritten at its first row), so a run that fails before it
logs anything leaves no file behind.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter

from dlspec.train.run_folder.run_dir import SPLITS, MetricsCsv, RunFiles


def scalar_tag(key: str) -> str:
    """The TensorBoard tag for a record key: 'val_accuracy' -> 'val/accuracy', 'lr' -> 'train/lr'."""
    split, _, metric = key.partition("_")
    return f"{split}/{metric}" if split in SPLITS and metric else f"train/{key}"


def epoch_line(record: dict[str, Any], epochs: int, improved: bool) -> str:
    """One concise console line for an epoch."""
    numbers = "  ".join(f"{k} {v:.4f}" for k, v in record.items()
                        if k not in ("epoch", "step", "lr", "seconds", "skipped_steps"))
    skipped = record.get("skipped_steps", 0)
    mark = (f"  ({skipped} non-finite steps skipped)" if skipped else "") + \
        ("  *" if improved else "")
    return (f"epoch {record['epoch']:>{len(str(epochs))}}/{epochs}  {numbers}  "
            f"lr {record['lr']:.2e}  {record['seconds']:.2f}s{mark}")


def _wait_for_a_later_second(folder: Path) -> None:
    """TensorBoard reads event files in name order, and a name starts with the second it
    was made in: a resumed run's file must not share the second of the file before it."""
    stamps = [int(p.name.split(".")[3]) for p in folder.glob("events.out.tfevents.*")
              if p.name.split(".")[3].isdigit()]
    while stamps and int(time.time()) <= max(stamps):
        time.sleep(0.05)


class StepsPerSecond(ProgressColumn):
    """The progress bar's speed: optimizer steps per second (over rich's recent window)."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text("- steps/s" if speed is None else f"{speed:,.1f} steps/s",
                    style="progress.data.speed")


class Reporter:
    """Writes each epoch's record to metrics.csv (flushed), TensorBoard and the console.

    The console gets one line per epoch and, on a terminal only, a progress bar that moves
    every optimizer step (`step`) with the epoch, the steps done of the run, steps/s, the
    time left and the step's loss (transient: the epoch lines stay). `quiet` silences the
    console but not the files. `groups` are the layer groups whose gradient norms
    `step_norms` logs. With `resume_step`, the files of a run resumed from that step are
    continued.
    """

    def __init__(self, files: RunFiles, columns: list[str], epochs: int,
                 console: Console | None = None, quiet: bool = False,
                 groups: list[str] | None = None, resume_step: int | None = None,
                 steps_per_epoch: int = 1):
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self.console = None if quiet else (console or Console())
        self.csv = MetricsCsv(files.metrics_csv, columns, resume_step)
        self.norms_csv = (MetricsCsv(files.grad_norms_csv, ["epoch", "step", *groups],
                                     resume_step) if groups else None)
        self.files, self.resume_step = files, resume_step
        self._tensorboard: SummaryWriter | None = None
        self.warnings: list[str] = []
        self.progress = self._progress(resume_step or 0)

    def _progress(self, done: int) -> Progress | None:
        if self.console is None or not self.console.is_terminal:
            return None
        progress = Progress(
            TextColumn(f"epoch {{task.fields[epoch]:>{len(str(self.epochs))}}}/{self.epochs}"),
            BarColumn(), MofNCompleteColumn(), TextColumn("steps"), StepsPerSecond(),
            TimeRemainingColumn(), TextColumn("{task.fields[loss]}"),
            console=self.console, transient=True)
        progress.start()
        epoch = min(done // max(self.steps_per_epoch, 1) + 1, self.epochs)
        self._task = progress.add_task("steps", total=self.epochs * self.steps_per_epoch,
                                       completed=done, epoch=epoch, loss="")
        return progress

    @property
    def tensorboard(self) -> SummaryWriter:
        """The TensorBoard writer, made at its first use."""
        if self._tensorboard is None:
            purge = None
            if self.resume_step is not None:
                purge = self.resume_step + 1
                _wait_for_a_later_second(self.files.tensorboard)
            self._tensorboard = SummaryWriter(log_dir=str(self.files.tensorboard),
                                              purge_step=purge)
        return self._tensorboard

    def step(self, epoch: int, step: int, loss: float) -> None:
        """Move the progress bar (on a terminal) to global step `step` of `epoch`."""
        if self.progress is not None:
            self.progress.update(self._task, completed=step, epoch=epoch,
                                 loss=f"loss {loss:.4f}")

    def step_loss(self, step: int, loss: float) -> None:
        """Log one batch's training loss."""
        self._scalars({"train/loss_step": loss}, step)

    def step_norms(self, epoch: int, step: int, norms: dict[str, float]) -> None:
        """Log the gradient norm of each layer group."""
        self._scalars({f"grad_norm/{group}": norm for group, norm in norms.items()}, step)
        if self.norms_csv is not None:
            self.norms_csv.write({"epoch": epoch, "step": step, **norms})

    def flush(self) -> None:
        """Put every TensorBoard event so far on disk (before a checkpoint, so that a run
        resumed from it has every event up to it)."""
        if self._tensorboard is not None:
            self._tensorboard.flush()

    def note(self, message: str) -> None:
        """Print a line about the run (unless quiet)."""
        if self.console is not None:
            self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def warn(self, message: str) -> None:
        """Print a warning (unless quiet) and keep it for the result."""
        self.warnings.append(message)
        if self.console is not None:
            self.console.print(f"warning: {message}", markup=False, highlight=False,
                               soft_wrap=True, style="yellow")

    def epoch(self, record: dict[str, Any], improved: bool) -> None:
        """Write one epoch's record everywhere."""
        self.csv.write(record)
        self._scalars({scalar_tag(k): v for k, v in record.items()
                       if k not in ("epoch", "step", "seconds")}, record["step"])
        if self.console is not None:
            self.console.print(epoch_line(record, self.epochs, improved), markup=False,
                               highlight=False, soft_wrap=True)

    def final(self, metrics: dict[str, float], step: int) -> None:
        """Log the final (test) metrics at the run's last step."""
        self._scalars({scalar_tag(k): v for k, v in metrics.items()}, step)
        if self.console is not None and metrics:
            text = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def _scalars(self, values: dict[str, float], step: int) -> None:
        """Several scalars as one TensorBoard event (what add_scalar does, once per step)."""
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(value))
                                 for tag, value in values.items()])
        self.tensorboard.file_writer.add_summary(summary, step)

    def close(self) -> None:
        """Stop the progress bar and close metrics.csv and the TensorBoard writer."""
        if self.progress is not None:
            self.progress.stop()
        self.csv.close()
        if self.norms_csv is not None:
            self.norms_csv.close()
        if self._tensorboard is not None:
            self._tensorboard.close()

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

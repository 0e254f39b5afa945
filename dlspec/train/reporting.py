"""Where a run's per-epoch numbers go: metrics.csv, TensorBoard and the console (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter

from dlspec.train.run_dir import MetricsCsv, RunFiles


def scalar_tag(key: str) -> str:
    """The TensorBoard tag for a record key: 'val_accuracy' -> 'val/accuracy', 'lr' -> 'train/lr'."""
    split, _, metric = key.partition("_")
    return f"{split}/{metric}" if metric else f"train/{key}"


def epoch_line(record: dict[str, Any], epochs: int, improved: bool) -> str:
    """One concise console line for an epoch."""
    numbers = "  ".join(f"{k} {v:.4f}" for k, v in record.items()
                        if k not in ("epoch", "step", "lr", "seconds"))
    mark = "  *" if improved else ""
    return (f"epoch {record['epoch']:>{len(str(epochs))}}/{epochs}  {numbers}  "
            f"lr {record['lr']:.2e}  {record['seconds']:.2f}s{mark}")


class Reporter:
    """Writes each epoch's record to metrics.csv (flushed), TensorBoard and the console.

    The console gets a progress bar over epochs (only on a terminal, transient) and one line
    per epoch; `quiet` silences the console but not the files.
    """

    def __init__(self, files: RunFiles, columns: list[str], epochs: int,
                 console: Console | None = None, quiet: bool = False):
        self.epochs = epochs
        self.console = None if quiet else (console or Console())
        self.csv = MetricsCsv(files.metrics_csv, columns)
        self.tensorboard = SummaryWriter(log_dir=str(files.tensorboard))
        self.progress = self._progress()

    def _progress(self) -> Progress | None:
        if self.console is None or not self.console.is_terminal:
            return None
        progress = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                            TimeRemainingColumn(), console=self.console, transient=True)
        progress.start()
        self._task = progress.add_task("epochs", total=self.epochs)
        return progress

    def step_loss(self, step: int, loss: float) -> None:
        """Log one batch's training loss."""
        self._scalars({"train/loss_step": loss}, step)

    def epoch(self, record: dict[str, Any], improved: bool) -> None:
        """Write one epoch's record everywhere."""
        self.csv.write(record)
        self._scalars({scalar_tag(k): v for k, v in record.items()
                       if k not in ("epoch", "step", "seconds")}, record["epoch"])
        if self.console is not None:
            self.console.print(epoch_line(record, self.epochs, improved), markup=False,
                               highlight=False, soft_wrap=True)
        if self.progress is not None:
            self.progress.advance(self._task)

    def final(self, metrics: dict[str, float], epoch: int) -> None:
        """Log the final (test) metrics."""
        self._scalars({scalar_tag(k): v for k, v in metrics.items()}, epoch)
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
        self.tensorboard.close()

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

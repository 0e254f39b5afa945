"""PNG figures (matplotlib, Agg): learning curves, confusion matrices, the lr range test."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dlspec.errors import Diagnostic, TrainError
from dlspec.files import atomic_path
from dlspec.train.run_folder.run_dir import SPLITS
from dlspec.train.run_folder.run_records import read_csv_rows

DPI = 100


@contextmanager
def figure(path: Path, size: tuple[float, float] = (6.4, 4.2)) -> Iterator:
    """A matplotlib (figure, axes), saved to `path` as a PNG, atomically, when the block
    ends. Drawn on its own Agg canvas: pyplot and its global backend are left alone."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    yield fig, fig.add_subplot()
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")


def curves(metrics_csv: Path) -> tuple[list[int], dict[str, dict[str, list[float]]]]:
    """From metrics.csv: the epochs, and {metric: {split: values}} for every train_/val_
    column ('val_accuracy' is accuracy on val); an empty cell is NaN. TrainError DLS419
    when the file is damaged."""
    rows = read_csv_rows(metrics_csv, required=("step", "epoch"))
    series: dict[str, dict[str, list[float]]] = {}
    for column in rows[0] if rows else []:
        split, _, metric = column.partition("_")
        if split in SPLITS and metric:
            values = [float(row[column]) if row[column] else math.nan for row in rows]
            series.setdefault(metric, {})[split] = values
    return [int(row["epoch"]) for row in rows], series


def plot_curves(metrics_csv: Path, out_dir: Path) -> list[Path]:
    """One PNG per metric (loss.png, accuracy.png, ...): train and validation per epoch.
    TrainError DLS403 when no epoch has finished (no row in metrics.csv)."""
    epochs, series = curves(metrics_csv) if Path(metrics_csv).is_file() else ([], {})
    if not epochs:
        run = Path(metrics_csv).parent
        raise TrainError(Diagnostic(
            "DLS403", f"the run in {run} has not finished an epoch yet: there is nothing to "
                      "plot", hint=f"plot it after its first epoch; a stopped run goes on with "
                                   f"`dlspec train --resume {run}`"))
    written = []
    for metric, by_split in series.items():
        path = Path(out_dir) / f"{metric}.png"
        with figure(path) as (_, axes):
            for split, values in by_split.items():
                axes.plot(epochs, values, marker="o", markersize=3,
                          label={"val": "validation"}.get(split, split))
            axes.set(xlabel="epoch", ylabel=metric, title=f"{metric} per epoch")
            axes.grid(alpha=0.3)
            axes.legend()
        written.append(path)
    return written


def plot_confusion(matrix: list[list[int]], class_names: list[str], path: Path,
                   title: str = "confusion matrix (test split)") -> Path:
    """A heat map of counts [true class][predicted class], with the counts written in."""
    count = len(matrix)
    size = max(4.0, 0.55 * count + 2)
    with figure(path, (size, size)) as (fig, axes):
        image = axes.imshow(matrix, cmap="Blues")
        fig.colorbar(image, ax=axes, fraction=0.046)
        names = class_names if len(class_names) == count else [str(i) for i in range(count)]
        axes.set_xticks(range(count), names, rotation=45, ha="right")
        axes.set_yticks(range(count), names)
        axes.set(xlabel="predicted class", ylabel="true class", title=title)
        peak = max(max(row) for row in matrix) or 1
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                axes.text(j, i, str(value), ha="center", va="center", fontsize=8,
                          color="white" if value > peak / 2 else "black")
    return path


def plot_lr_find(result, path: Path) -> Path:
    """The smoothed (and raw) loss against the learning rate, the suggestion marked."""
    with figure(path) as (_, axes):
        axes.plot(result.lrs, result.losses, alpha=0.3, label="loss")
        axes.plot(result.lrs, result.smoothed, label="smoothed loss")
        if result.suggestion is not None:
            axes.axvline(result.suggestion, color="red", linestyle="--",
                         label=f"suggested lr {result.suggestion:.2e}")
        axes.set_xscale("log")
        low, high = min(result.smoothed), max(result.smoothed)
        margin = 0.1 * (high - low) or 0.1
        axes.set_ylim(low - margin, high + margin)  # single noisy batches may go far above
        axes.set(xlabel="learning rate", ylabel="training loss",
                 title="learning-rate range test")
        axes.grid(alpha=0.3, which="both")
        axes.legend()
    return path

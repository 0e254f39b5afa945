"""The training loop: `fit` trains a model on prepared in-memory data with a recipe.

Whole splits live on the device as tensors; each epoch shuffles with a seeded generator and
slices batches by index (no DataLoader). The epoch's batch losses stay on the device and are
read once per epoch; validation runs once per epoch under inference mode; checkpoints are
written by a background thread while training goes on.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

import dlspec
from dlspec.data.types import PreparedData, Split
from dlspec.errors import Diagnostic, TrainError
from dlspec.train.checkpoint import CheckpointWriter, apply_checkpoint, load_checkpoint
from dlspec.train.device import resolve_device
from dlspec.train.losses import build_loss
from dlspec.train.metrics import MetricSet, build_metrics, evaluate
from dlspec.train.monitor import Monitor, make_monitor
from dlspec.train.optim import build_optimizer
from dlspec.train.recipe import Recipe, metric_names
from dlspec.train.reporting import Reporter
from dlspec.train.run_dir import RunFiles, json_text, write_result
from dlspec.train.schedules import make_lr_scheduler
from dlspec.train.steps import StepPlan, check_outputs, nonfinite_loss_error, train_epoch


@dataclass(frozen=True)
class FitResult:
    """What a finished run achieved and where its files are."""

    run_dir: Path
    monitor: str
    mode: str
    best_epoch: int  # 0 when no epoch had a finite monitored value
    best_value: float | None
    epochs_run: int
    stopped_early: bool
    restored_best: bool
    val_metrics: dict[str, float]  # of the returned weights
    test_metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    best_checkpoint: Path | None = None
    last_checkpoint: Path | None = None

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data (what result.json holds)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


@dataclass
class _Run:
    """Everything one run holds, built once by `_setup`."""

    model: torch.nn.Module
    data: PreparedData
    recipe: Recipe
    files: RunFiles
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]]
    loss_fn: torch.nn.Module
    metrics: MetricSet
    monitor: Monitor
    optimizer: torch.optim.Optimizer
    scheduler: Any
    plan: StepPlan
    metadata: dict[str, str]
    extras: dict[str, torch.Tensor]

    @property
    def has_val(self) -> bool:
        return len(self.splits["val"][0]) > 0


def fit(model: torch.nn.Module, data: PreparedData, recipe: Recipe, run_dir: Path, *,
        device: str, seed: int, metadata: dict[str, str], console: Console | None = None,
        quiet: bool = False) -> FitResult:
    """Train `model` (called as `model(x)`, returning logits) on `data` with `recipe`.

    Writes metrics.csv, TensorBoard events, checkpoints/{best,last}.safetensors and
    result.json under `run_dir`. `metadata` (e.g. spec_name, spec_sha256) goes into every
    checkpoint with the epoch, step, task, class names and metrics. With early stopping and
    restore_best, the best epoch's weights are loaded at the end; the test metrics measure
    the weights the model is left with. A non-finite training loss raises TrainError DLS403
    and leaves the last good checkpoint in place. Seeds torch's global generator with `seed`
    (dropout) and shuffles with a generator of its own, so equal seeds give equal weights.
    """
    torch.manual_seed(seed)
    run = _setup(model, data, recipe, RunFiles(Path(run_dir)), resolve_device(device),
                 metadata)
    run.files.create()  # only once the run is known to be able to start
    columns = ["epoch", "step", "lr", "train_loss", *_val_keys(run), "seconds"]
    generator = torch.Generator().manual_seed(seed)
    history: list[dict[str, Any]] = []
    with Reporter(run.files, columns, recipe.train.epochs, console, quiet) as reporter, \
            CheckpointWriter() as writer:
        for epoch in range(1, recipe.train.epochs + 1):
            record = _run_epoch(run, epoch, generator, reporter, writer)
            improved = run.monitor.update(epoch, record[run.monitor.name])
            history.append(record)
            _save_checkpoints(run, writer, record, improved, run.monitor.should_stop)
            reporter.epoch(record, improved)
            if run.monitor.should_stop:
                break
        writer.wait()
        restored = _restore_best(run)
        test_metrics = _test(run, reporter, len(history))
    final = history[run.monitor.best_epoch - 1] if restored else history[-1]
    result = FitResult(
        run_dir=run.files.root, monitor=run.monitor.name, mode=run.monitor.mode,
        best_epoch=run.monitor.best_epoch, best_value=run.monitor.best,
        epochs_run=len(history), stopped_early=len(history) < recipe.train.epochs,
        restored_best=restored,
        val_metrics={k: v for k, v in final.items() if k.startswith("val_")},
        test_metrics=test_metrics, history=history,
        best_checkpoint=run.files.best if run.monitor.best_epoch else None,
        last_checkpoint=run.files.last)
    write_result(run.files.result_json, result.to_json())
    model.train()
    return result


def _setup(model: torch.nn.Module, data: PreparedData, recipe: Recipe, files: RunFiles,
           device: str, metadata: dict[str, str]) -> _Run:
    model.to(device)
    splits = {name: _to_device(getattr(data, name), device) for name in ("train", "val", "test")}
    train_x, train_y = splits["train"]
    if len(train_x) == 0:
        raise TrainError(Diagnostic("DLS401", "the train split is empty",
                                    hint="give data.split a larger train fraction"))
    num_classes = check_outputs(model, train_x, train_y, data)
    try:
        names = metric_names(data.task, recipe.train.metrics)
    except ValueError as error:
        raise TrainError(Diagnostic("DLS102", str(error))) from error
    has_val = len(splits["val"][0]) > 0
    available = ["train_loss", *[f"val_{k}" for k in ("loss", *names) if has_val]]
    optimizer = build_optimizer(model, recipe.optimizer)
    plan = StepPlan.create(len(train_x), recipe.batch_size, recipe.train.epochs, device)
    return _Run(
        model=model, data=data, recipe=recipe, files=files, splits=splits,
        loss_fn=build_loss(recipe.loss, data.task, num_classes).to(device),
        metrics=build_metrics(data.task, names, num_classes, device),
        monitor=make_monitor(recipe.regularization.early_stopping, available, has_val),
        optimizer=optimizer,
        scheduler=make_lr_scheduler(optimizer, recipe.schedule, plan.steps_per_epoch,
                                    plan.total_steps),
        plan=plan,
        metadata={"dlspec_version": dlspec.__version__, "task": data.task, "data": data.source,
                  "class_names": json.dumps(list(data.class_names)), **metadata},
        extras={f"preprocess.{k}": torch.from_numpy(np.array(v, dtype=np.float32))
                for k, v in (("mean", data.mean), ("std", data.std)) if v is not None},
    )


def _to_device(split: Split, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    def tensor(array: np.ndarray) -> torch.Tensor:
        array = np.ascontiguousarray(array)
        return torch.from_numpy(array if array.flags.writeable else array.copy()).to(device)

    return tensor(split.x), tensor(split.y)


def _val_keys(run: _Run) -> list[str]:
    return [f"val_{k}" for k in ("loss", *run.metrics)] if run.has_val else []


def _run_epoch(run: _Run, epoch: int, generator: torch.Generator, reporter: Reporter,
               writer: CheckpointWriter) -> dict[str, Any]:
    """Train one epoch, then validate; the epoch's record (raises DLS403 on a bad loss)."""
    started = time.perf_counter()
    lr = run.optimizer.param_groups[0]["lr"]
    x, y = run.splits["train"]
    order = None
    if run.recipe.shuffle:
        order = torch.randperm(len(x), generator=generator).to(x.device)
    losses = train_epoch(run.model, x, y, run.loss_fn, run.optimizer, run.scheduler, run.plan,
                         order, epoch, reporter, run.recipe.regularization.grad_clip_norm,
                         run.recipe.train.log_every)
    train_loss = run.plan.epoch_mean(losses)
    if not np.isfinite(train_loss):
        writer.wait()
        raise nonfinite_loss_error(losses, run.plan, epoch, lr, (x, y), run.files.last)
    record = {"epoch": epoch, "step": epoch * run.plan.steps_per_epoch, "lr": lr,
              "train_loss": train_loss}
    if run.has_val:
        record |= evaluate(run.model, *run.splits["val"], run.loss_fn, run.metrics,
                           run.data.task, "val", _eval_batch(run.recipe))
    record["seconds"] = time.perf_counter() - started
    return record


def _save_checkpoints(run: _Run, writer: CheckpointWriter, record: dict[str, Any],
                      improved: bool, stopping: bool) -> None:
    """last.safetensors every checkpoint_every epochs and at the end; best when improved."""
    epoch = record["epoch"]
    last_epoch = stopping or epoch == run.recipe.train.epochs
    metadata = {**run.metadata, "epoch": str(epoch), "step": str(record["step"]),
                "metrics": json_text(record)}
    if last_epoch or epoch % run.recipe.train.checkpoint_every == 0:
        writer.save(run.files.last, run.model.state_dict(), metadata, run.extras)
        if improved:
            writer.copy(run.files.last, run.files.best)
    elif improved:
        writer.save(run.files.best, run.model.state_dict(), metadata, run.extras)


def _eval_batch(recipe: Recipe) -> int:
    return max(recipe.batch_size, 1024)


def _restore_best(run: _Run) -> bool:
    """Load best.safetensors when early stopping asks for it; whether it did."""
    stopping = run.recipe.regularization.early_stopping
    if stopping is None or not stopping.restore_best or not run.monitor.best_epoch:
        return False
    apply_checkpoint(run.model, load_checkpoint(run.files.best))
    return True


def _test(run: _Run, reporter: Reporter, epochs_run: int) -> dict[str, float]:
    """Metrics of the final weights on the test split ({} when it is empty)."""
    x, y = run.splits["test"]
    if len(x) == 0:
        return {}
    metrics = evaluate(run.model, x, y, run.loss_fn, run.metrics, run.data.task, "test",
                       _eval_batch(run.recipe))
    reporter.final(metrics, epochs_run)
    return metrics

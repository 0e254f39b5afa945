"""Everything one training run holds, built and checked before any file is written."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import dlspec
from dlspec.data.tasks import output_shape, shape_text
from dlspec.data.types import PreparedData, Split
from dlspec.errors import Diagnostic, TrainError
from dlspec.train.device import resolve_device
from dlspec.train.guards import NonFiniteGuard
from dlspec.train.losses import SpecLoss, build_loss
from dlspec.train.lr_scheduler import make_lr_scheduler
from dlspec.train.metrics import MetricSet, build_metrics
from dlspec.train.monitor import Monitor, make_monitor
from dlspec.train.optim import build_optimizer
from dlspec.train.outputs import ModelOutputs
from dlspec.train.precision import Precision
from dlspec.train.recipe import MetricChoiceError, Recipe, metric_names
from dlspec.train.run_dir import RunFiles
from dlspec.train.steps import Stepper, StepPlan
from dlspec.train.transfer import freeze, init_from


@dataclass(frozen=True)
class FitOptions:
    """How `fit` runs, beyond the recipe: resume the run in `run_dir` (`extend_from`: the
    epochs it was planned for, when --epochs extends it), --detect-anomaly, the folder that
    `train.init_from.path` is relative to, and `new_run`: the run folder to create once the
    run has started (see run_start.py)."""

    resume: bool = False
    detect_anomaly: bool = False
    base_dir: Path = Path(".")
    extend_from: int | None = None
    new_run: Any = None  # NewRun | None


@dataclass
class Run:
    """Everything one run holds, built once by `setup_run`."""

    model: torch.nn.Module
    data: PreparedData
    recipe: Recipe
    files: RunFiles
    device: str
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]]
    outputs: ModelOutputs
    loss_fn: SpecLoss
    metrics: MetricSet
    monitor: Monitor
    optimizer: torch.optim.Optimizer
    scheduler: Any
    plan: StepPlan
    precision: Precision
    guard: NonFiniteGuard
    stepper: Stepper
    metadata: dict[str, str]
    extras: dict[str, torch.Tensor]
    notes: list[str] = field(default_factory=list)  # what setup did, for the console

    @property
    def has_val(self) -> bool:
        return len(self.splits["val"][0]) > 0


def setup_run(model: torch.nn.Module, data: PreparedData, recipe: Recipe, files: RunFiles,
              device: str, metadata: dict[str, str], options: FitOptions) -> Run:
    """Move the model and data to the device, check they fit, load `init_from` (not when
    resuming), freeze, and build the loss, metrics, optimizer, schedule and stepper."""
    device = resolve_device(device)
    train = recipe.train
    precision = Precision(train.precision, device)
    model.to(device)
    splits = {name: split_tensors(getattr(data, name), device)
              for name in ("train", "val", "test")}
    train_x, train_y = splits["train"]
    if len(train_x) == 0:
        raise TrainError(Diagnostic("DLS401", "the train split is empty",
                                    hint="give data.split a larger train fraction"))
    outputs, num_classes, loss_fn = checked_loss(model, train_x, train_y, data, recipe, device)
    names = run_metric_names(data.task, train.metrics, outputs)
    has_val = len(splits["val"][0]) > 0
    available = [*(f"train_{k}" for k in loss_fn.keys),
                 *[f"val_{k}" for k in (*loss_fn.keys, *names) if has_val]]
    notes = []
    if train.init_from is not None and not options.resume:
        notes += init_from(model, train.init_from, options.base_dir).lines()
    if train.freeze:
        notes.append(f"frozen: {', '.join(freeze(model, train.freeze))}")
    optimizer = build_optimizer(model, recipe.optimizer)
    plan = StepPlan.create(len(train_x), recipe.batch_size, train.epochs, train.accumulate)
    scheduler = make_lr_scheduler(optimizer, recipe.schedule, plan.steps_per_epoch,
                                  plan.total_steps)
    guard = NonFiniteGuard(1 if options.detect_anomaly else train.max_nonfinite_steps,
                           lambda: _finite(train_x, train_y), files.last)
    if train.compile and options.detect_anomaly:
        notes.append("train.compile is off under --detect-anomaly (it checks eager ops)")
    elif train.compile:
        model.compile()
    return Run(
        model=model, data=data, recipe=recipe, files=files, device=device, splits=splits,
        outputs=outputs, loss_fn=loss_fn, metrics=build_metrics(data.task, names, num_classes, device),
        monitor=make_monitor(recipe.regularization.early_stopping, available, has_val),
        optimizer=optimizer, scheduler=scheduler, plan=plan, precision=precision, guard=guard,
        stepper=Stepper(model, loss_fn, optimizer, scheduler, precision,
                        recipe.regularization),
        metadata={"dlspec_version": dlspec.__version__, "task": data.task, "data": data.source,
                  "class_names": json.dumps(list(data.class_names)), **outputs.metadata(),
                  **metadata},
        extras={f"preprocess.{k}": torch.from_numpy(np.array(v, dtype=np.float32))
                for k, v in (("mean", data.mean), ("std", data.std)) if v is not None},
        notes=notes)


def checked_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                 data: PreparedData, recipe: Recipe, device: str
                 ) -> tuple[ModelOutputs, int, SpecLoss]:
    """The model's outputs (checked against the targets on two samples), the number of
    classes, and the recipe's loss on `device`."""
    outputs = ModelOutputs.of(recipe)
    num_classes = check_outputs(model, x, y, data, outputs)
    loss_fn = build_loss(recipe.loss, data.task, num_classes, recipe.outputs, recipe.inputs)
    return outputs, num_classes, loss_fn.to(device)


def run_metric_names(task: str, asked: list[str] | None, outputs: ModelOutputs
                     ) -> tuple[str, ...]:
    """The metrics a run measures (recipe.metric_names); TrainError DLS102 for a metric the
    task lacks, or metrics with nothing to score."""
    try:
        return metric_names(task, asked, scored=outputs.scored is not None)
    except MetricChoiceError as error:
        raise TrainError(Diagnostic("DLS102", str(error), hint=error.hint)) from error


def split_tensors(split: Split, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A split's inputs and targets as tensors on `device` (sharing memory on the CPU)."""
    def tensor(array: np.ndarray) -> torch.Tensor:
        array = np.ascontiguousarray(array)
        return torch.from_numpy(array if array.flags.writeable else array.copy()).to(device)

    return tensor(split.x), tensor(split.y)


def _finite(*tensors: torch.Tensor) -> bool:
    return all(bool(torch.isfinite(t.float()).all()) for t in tensors)


def check_outputs(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                  data: PreparedData, outputs: ModelOutputs) -> int:
    """Run the model on two train samples and check that its scored output fits the targets.

    Returns the number of classes (from the data, else from the output width; 0 for
    regression). Raises TrainError DLS402 when the output shape cannot feed the loss.
    """
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        returned = model(x[:2])
    model.train(was_training)
    outputs.check_count(returned)
    out = outputs.scored_tensor(returned)
    if out is None:  # the loss reads no targets: nothing to fit them
        return data.num_classes
    got = "(N, " + ", ".join(str(d) for d in out.shape[1:]) + ")"
    if data.task == "classification":
        classes = data.num_classes or (out.shape[-1] if out.ndim == 2 else 0)
        if out.ndim != 2 or out.shape[1] != classes:
            raise _mismatch(f"the model outputs {got} but the data has {classes} classes",
                            f"end the model with a linear layer of out_features: {classes}")
        return classes
    classes = data.num_classes or int(out.shape[-1])
    want = output_shape(data.task, tuple(y.shape[1:]), classes)  # (T, classes) per token
    if tuple(out.shape[1:]) != want:
        raise _mismatch(f"the model outputs {got} but the {data.task} targets are "
                        f"{shape_text(tuple(y.shape[1:]))}: they need {shape_text(want)}",
                        f"end the model with a linear layer of out_features: {want[-1]}"
                        if want else None)
    return 0 if data.task in ("binary", "regression") else classes


def _mismatch(message: str, hint: str | None) -> TrainError:
    return TrainError(Diagnostic("DLS402", message, hint=hint))

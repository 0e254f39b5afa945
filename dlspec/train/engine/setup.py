"""Everything one training run holds, built and checked before any file is written."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import dlspec
from dlspec.data.types import PreparedData
from dlspec.errors import Diagnostic, TrainError
from dlspec.train.distributed.ranks import SINGLE, Ranks, current
from dlspec.train.distributed.strategy import parallel_for
from dlspec.train.engine.batch import Tensors, split_tensors
from dlspec.train.engine.device import resolve_device
from dlspec.train.engine.guards import NonFiniteGuard
from dlspec.train.engine.model_set import ModelSet, models_of
from dlspec.train.engine.monitor import Monitor, make_monitor
from dlspec.train.engine.precision import Precision
from dlspec.train.engine.sampling import Sampler
from dlspec.train.engine.steps import Learner, Stepper, StepPlan
from dlspec.train.objectives import objective_class
from dlspec.train.objectives.base import Context, Objective, Update
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.lr_scheduler import make_lr_scheduler
from dlspec.train.recipe.optim import build_optimizer
from dlspec.train.run_folder.run_dir import RunFiles
from dlspec.train.run_folder.transfer import freeze, init_from


@dataclass(frozen=True)
class FitOptions:
    """How `fit` runs, beyond the recipe: resume the run in `run_dir` (`extend_from`: the
    epochs it was planned for, when --epochs extends it), --detect-anomaly, the folder that
    `train.init_from.path` is relative to, and `new_run`: the run folder to create once the
    run has started (see run_start.py). `on_epoch(epoch, record)` is called after each
    epoch's validation, once its checkpoints are queued (a search reports to its pruner
    there); what it raises ends the run, its files finished and resumable."""

    resume: bool = False
    detect_anomaly: bool = False
    base_dir: Path = Path(".")
    extend_from: int | None = None
    new_run: Any = None  # NewRun | None
    on_epoch: Callable[[int, Mapping[str, float]], None] | None = None


@dataclass
class Run:
    """Everything one run holds, built once by `setup_run`."""

    model: torch.nn.Module  # the model, or a ModelSet of several: what checkpoints hold
    data: PreparedData
    recipe: Recipe
    files: RunFiles
    device: str
    splits: dict[str, Tensors]
    objective: Objective
    monitor: Monitor
    learners: list[Learner]
    plan: StepPlan
    precision: Precision
    guard: NonFiniteGuard
    stepper: Stepper
    metadata: dict[str, str]
    extras: dict[str, torch.Tensor]
    notes: list[str] = field(default_factory=list)  # what setup did, for the console
    sampler: Sampler | None = None  # draws each epoch's order (None: a permutation)
    ranks: Ranks = SINGLE  # this process's place in a distributed run

    @property
    def has_val(self) -> bool:
        return len(self.splits["val"]) > 0

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The first update's optimizer (the one of a single model)."""
        return self.learners[0].optimizer

    def loss_keys(self) -> tuple[str, ...]:
        """The names of the losses a run logs: "loss", then each term's or update's."""
        objective, updates = self.objective, self.objective.updates()
        if len(updates) == 1:
            return objective.loss_keys(updates[0])
        return ("loss", *(key.replace("loss", f"loss_{u.name}", 1) for u in updates
                          for key in objective.loss_keys(u)))


def setup_run(model: torch.nn.Module, data: PreparedData, recipe: Recipe, files: RunFiles,
              device: str, metadata: dict[str, str], options: FitOptions) -> Run:
    """Move the model(s) and data to the device, load `init_from` (not when resuming),
    freeze, wrap the models of a distributed run for its strategy, build the objective and
    check on two samples that model and data fit, and build each update's optimizer and
    schedule, and the stepper."""
    device = resolve_device(device)
    train = recipe.train
    precision = Precision(train.precision, device)
    model.to(device)
    splits = {name: split_tensors(getattr(data, name), device)
              for name in ("train", "val", "test")}
    if len(splits["train"]) == 0:
        raise TrainError(Diagnostic("DLS401", "the train split is empty",
                                    hint="give data.split a larger train fraction"))
    notes = []
    if train.init_from is not None and not options.resume:
        notes += init_from(model, train.init_from, options.base_dir).lines()
    if train.freeze:
        notes.append(f"frozen: {', '.join(freeze(model, train.freeze))}")
    ranks = current()
    parallel = parallel_for(models_of(model), ranks, device, train.distributed)
    objective = make_objective(model, data, recipe, device, parallel.wrap)
    parallel.check(objective.config)
    objective.prepare(splits["train"])
    has_val = len(splits["val"]) > 0
    sampler = Sampler.create(data.sampling, recipe.shuffle, splits["train"].y)
    notes += [note for note in (sampler.note(list(data.class_names)),) if note]
    plan = StepPlan.create(sampler.samples, recipe.batch_size, train.epochs,
                           train.accumulate, ranks.rank, ranks.world)  # an epoch: its order
    learners = [_learner(update, objective.models[update.model], recipe, plan)
                for update in objective.updates()]
    guard = NonFiniteGuard(1 if options.detect_anomaly else train.max_nonfinite_steps,
                           splits["train"].finite, files.last)
    if train.compile and options.detect_anomaly:
        notes.append("train.compile is off under --detect-anomaly (it checks eager ops)")
    elif train.compile:
        for each in models_of(model).values():
            each.compile()
    stepper = Stepper(model, objective, learners, precision, parallel)
    run = Run(
        model=model, data=data, recipe=recipe, files=files, device=device, splits=splits,
        objective=objective, monitor=Monitor("train_loss", "min"), learners=learners,
        plan=plan, precision=precision, guard=guard, stepper=stepper,
        metadata={"dlspec_version": dlspec.__version__, "task": data.task, "data": data.source,
                  "class_names": json.dumps(list(data.class_names)), **objective.metadata(),
                  **{k: v for k, v in (("tokenizer", data.tokenizer),
                                       ("text_column", data.text_column)) if v},
                  **({"columns": json.dumps(data.columns)} if data.columns else {}),
                  **metadata},
        extras=preprocess_extras(data),
        notes=notes, sampler=sampler, ranks=ranks)
    keys = run.loss_keys()
    available = [*(f"train_{k}" for k in keys),
                 *[f"val_{k}" for k in (*keys, *objective.metric_names()) if has_val]]
    run.monitor = make_monitor(recipe.regularization.early_stopping, available, has_val,
                               objective.loss_ranks)
    return run


def make_objective(model: torch.nn.Module, data: PreparedData, recipe: Recipe,
                   device: str, wrap: Callable[[dict], dict] | None = None) -> Objective:
    """The recipe's objective over the run's model(s), with the EMA copies it keeps;
    `wrap` gives the models as the objective calls them (a distributed run's wrappers)."""
    models = models_of(model) if wrap is None else wrap(models_of(model))
    if isinstance(model, ModelSet):
        for name, decay in objective_class(recipe.objective).ema_of(recipe.objective).items():
            model.keep_average(name, decay)
    context = Context(models, data, recipe, torch.device(device),
                      getattr(model, "input_types", {}), getattr(model, "output_names", {}),
                      {name: average.module for name, average in
                       (model.averages.items() if isinstance(model, ModelSet) else ())})
    return objective_class(recipe.objective)(recipe.objective, context)


def _learner(update: Update, model: torch.nn.Module, recipe: Recipe,
             plan: StepPlan) -> Learner:
    """An update's optimizer over its model and its schedule, counted in the steps where
    the update runs."""
    optimizer = build_optimizer(model, recipe.optimizer_for(update.model))
    steps = max(plan.steps_per_epoch // update.every, 1)
    scheduler = make_lr_scheduler(optimizer, recipe.schedule_for(update.model), steps,
                                  steps * plan.epochs)
    return Learner.create(update, optimizer, scheduler, recipe.regularization)


def preprocess_extras(data: PreparedData) -> dict[str, torch.Tensor]:
    """The standardization a model's inputs were trained with, for checkpoints (so that an
    exported model takes raw values): `preprocess.mean`/`.std` for a model of one input,
    `preprocess.<input>.mean`/`.std` for each standardized input of several."""
    def tensor(values) -> torch.Tensor:
        return torch.from_numpy(np.array(values, dtype=np.float32))

    if data.mean is not None and data.std is not None:
        return {"preprocess.mean": tensor(data.mean), "preprocess.std": tensor(data.std)}
    if len(data.train.inputs) == 1:
        return {}
    return {f"preprocess.{name}.{key}": tensor(value) for name, (mean, std) in
            data.scaling.items() for key, value in (("mean", mean), ("std", std))}


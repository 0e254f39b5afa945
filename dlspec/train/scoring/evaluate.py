"""`dlspec evaluate`: the loss and metrics of given weights on one split of a spec's data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from dlspec.data.types import PreparedData
from dlspec.errors import Diagnostic, TrainError
from dlspec.train.engine.batch import split_tensors
from dlspec.train.engine.device import resolve_device
from dlspec.train.engine.model_set import ModelSet
from dlspec.train.recipe import Recipe
from dlspec.train.run_folder.checkpoint import Checkpoint, apply_checkpoint, load_checkpoint
from dlspec.train.run_folder.run_dir import RunFiles, checkpoint_file
from dlspec.train.scoring.metrics import MATRIX_METRICS, build_metrics, confusion_matrix, evaluate
from dlspec.train.scoring.outputs import ModelOutputs
from dlspec.train.scoring.targets import check_outputs, checked_loss, run_metric_names


@dataclass(frozen=True)
class Evaluation:
    """The metrics of a checkpoint on one split."""

    weights: Path
    split: str
    samples: int
    metrics: dict[str, float]  # named <split>_<metric>, the loss included
    epoch: int | None = None  # the epoch the weights were saved at (from their metadata)
    warning: str | None = None  # e.g. a run folder without best weights: its last were used

    def to_json(self) -> dict:
        return {"weights": str(self.weights), "epoch": self.epoch, "split": self.split,
                "samples": self.samples, "metrics": self.metrics, "warning": self.warning}


@dataclass(frozen=True)
class ChosenWeights:
    """Which checkpoint file an evaluation loads, and why when it is not the one asked for."""

    path: Path
    checkpoint: Checkpoint
    warning: str | None = None

    @property
    def epoch(self) -> int | None:
        epoch = self.checkpoint.metadata.get("epoch", "")
        return int(epoch) if epoch.isdigit() else None


def choose_weights(weights: Path) -> ChosenWeights:
    """The checkpoint of `weights` (a file, or a run folder's best), loaded; a run folder
    without best weights falls back to its last ones, and the warning says so."""
    weights = Path(weights)
    path = checkpoint_file(weights)
    warning = None
    if weights.is_dir() and path != RunFiles(weights).best:
        warning = (f"{RunFiles(weights).best} is missing (no epoch had a finite value of the "
                   f"monitored metric, or it was deleted): evaluated the run's LAST weights, "
                   f"{path.name}, instead")
    return ChosenWeights(path, load_checkpoint(path), warning)


def measure(model: torch.nn.Module, data: PreparedData, recipe: Recipe, split: str,
            device: str, names: tuple[str, ...] | None = None) -> dict[str, float]:
    """Loss and metrics of `model` on a split of `data` (in eval mode): the recipe's
    train.metrics, or `names`. TrainError DLS401 when the split is empty."""
    _refuse_empty(data, split)
    device = resolve_device(device)
    model.to(device)
    tensors = split_tensors(getattr(data, split), device)
    outputs, num_classes, loss_fn = checked_loss(model, tensors, data, recipe, device)
    names = names or run_metric_names(data.task, recipe.train.metrics, outputs)
    names = tuple(n for n in names if n not in MATRIX_METRICS)
    metrics = build_metrics(data.task, names, num_classes, device)
    return evaluate(model, tensors, loss_fn, metrics, data.task, split, outputs,
                    max(recipe.batch_size, 1024))


def evaluate_weights(model: torch.nn.Module, data: PreparedData, recipe: Recipe,
                     weights: Path, split: str, device: str) -> Evaluation:
    """Load a checkpoint (a file, or a run folder's best) into `model` and measure it."""
    chosen = choose_weights(weights)
    apply_checkpoint(model, chosen.checkpoint)
    metrics = measure(model, data, recipe, split, device)
    return Evaluation(chosen.path, split, len(getattr(data, split)), metrics, chosen.epoch,
                      chosen.warning)


def evaluate_models(models: ModelSet, data: PreparedData, recipe: Recipe, weights: Path,
                    split: str, device: str, only: str | None = None) -> Evaluation:
    """Load a checkpoint of several models (a file, or a run folder's best), or of one model
    trained by an objective other than supervised, and measure them on a split with their
    objective; `only`: keep the losses of the updates of that model."""
    from dlspec.train.engine.setup import make_objective

    _refuse_empty(data, split)
    device = resolve_device(device)
    models.to(device)
    objective = make_objective(models, data, recipe, device)  # with its EMA copies
    chosen = choose_weights(weights)
    apply_checkpoint(models, chosen.checkpoint)
    objective.prepare(split_tensors(data.train, device))
    metrics = objective.evaluate(split_tensors(getattr(data, split), device), split,
                                 max(recipe.batch_size, 1024))
    if only is not None:
        names = [f"{split}_loss_{u.name}" for u in objective.updates() if u.model == only]
        metrics = {k: v for k, v in metrics.items() if any(k.startswith(n) for n in names)}
    return Evaluation(chosen.path, split, len(getattr(data, split)), metrics, chosen.epoch,
                      chosen.warning)


def _refuse_empty(data: PreparedData, split: str) -> None:
    if not len(getattr(data, split)):
        raise TrainError(Diagnostic(
            "DLS401", f"the {split} split is empty",
            hint="choose another --split, or give that split a fraction in data.split"))


def test_confusion(model: torch.nn.Module, data: PreparedData, recipe: Recipe, weights: Path,
                   device: str) -> list[list[int]] | None:
    """Counts [true][predicted] of a checkpoint (a file, or a run folder's best) on the test
    split, for classification and binary tasks; None for other tasks or without a test
    split."""
    if recipe.objective.op != "supervised":
        return None  # its models score no classes
    outputs = ModelOutputs.of(recipe)
    if data.task not in ("classification", "binary") or not len(data.test) or \
            outputs.scored is None:
        return None
    apply_checkpoint(model, load_checkpoint(checkpoint_file(Path(weights))))
    device = resolve_device(device)
    model.to(device)
    tensors = split_tensors(data.test, device)
    classes = data.num_classes or check_outputs(model, tensors, data, outputs)
    return confusion_matrix(model, tensors, data.task, classes, outputs)

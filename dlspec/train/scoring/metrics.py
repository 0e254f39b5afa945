"""Validation and test metrics (torchmetrics), and the evaluation pass that computes them.

Every task has its own set (METRICS in config.py). The scored output is read in the space its
loss declares (output_space.py): logits become probabilities (softmax, or sigmoid per output
for binary and multilabel), probabilities are taken as they are, and log-probabilities
become probabilities; the per-token tasks are measured over every position whose target is not
PAD_TARGET.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from torchmetrics import Metric, classification, regression
from torchmetrics.text import Perplexity

from dlspec.data.tasks import PAD_TARGET, PER_TOKEN, Task
from dlspec.data.types import PreparedData
from dlspec.files import atomic_write_text
from dlspec.train.engine.batch import Tensors, forward
from dlspec.train.scoring.output_space import Readout, Space, readout
from dlspec.train.scoring.outputs import SINGLE_OUTPUT, ModelOutputs

MetricSet = dict[str, Metric]
MATRIX_METRICS = ("confusion_matrix",)  # not a number: measured once, on the test split


class TokenPerplexity(Perplexity):
    """Perplexity, exp(mean cross-entropy), of flattened token probabilities (n, C) against
    class indices (n,), skipping PAD_TARGET."""

    def __init__(self, **kwargs):
        super().__init__(ignore_index=PAD_TARGET, **kwargs)

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        # torchmetrics takes scores it softmaxes: the log of probabilities is such scores
        log_p = preds.float().clamp_min(torch.finfo(torch.float32).tiny).log()
        super().update(log_p.unsqueeze(0), target.unsqueeze(0))


# torchmetrics' class names are <Binary|Multiclass|Multilabel><suffix>
_SUFFIX = {"accuracy": "Accuracy", "f1": "F1Score", "precision": "Precision",
           "recall": "Recall", "auroc": "AUROC", "confusion_matrix": "ConfusionMatrix"}


def _classifier(kind: str, name: str, **options) -> Metric:
    """torchmetrics' `kind` (Binary, Multiclass, Multilabel) version of metric `name`:
    accuracy micro-averaged, f1/precision/recall/auroc macro-averaged."""
    if kind != "Binary" and name != "confusion_matrix":
        options["average"] = "micro" if name == "accuracy" else "macro"
    return getattr(classification, kind + _SUFFIX[name])(validate_args=False, **options)


def _regression(name: str) -> Metric:
    makers: dict[str, Callable[[], Metric]] = {
        "mae": regression.MeanAbsoluteError,
        "mse": regression.MeanSquaredError,
        "rmse": lambda: regression.MeanSquaredError(squared=False),
        "r2": regression.R2Score,
    }
    return makers[name]()


def make_metric(task: Task, name: str, num_classes: int) -> Metric:
    """One torchmetrics object measuring `name` for `task` (see `build_metrics`)."""
    if task == "regression":
        return _regression(name)
    if task == "binary":
        return _classifier("Binary", name)
    if task == "multilabel":
        return _classifier("Multilabel", name, num_labels=num_classes)
    if name == "perplexity":
        return TokenPerplexity()
    ignore = PAD_TARGET if task in PER_TOKEN else None
    return _classifier("Multiclass", name, num_classes=num_classes, ignore_index=ignore)


def build_metrics(task: Task, names: tuple[str, ...], num_classes: int,
                  device: str | torch.device) -> MetricSet:
    """The torchmetrics objects for the scalar metrics among `names` (already checked
    against the task), on `device`; confusion_matrix is left to `save_confusion_matrix`.

    classification and tagging: accuracy (micro), f1/precision/recall/auroc (macro average
    over classes); binary: with threshold 0.5 on the probability; multilabel: accuracy over
    every (sample, label) decision, the others macro over labels; tagging and language
    modelling skip padding, perplexity = exp(mean token cross-entropy); regression: mae,
    mse, rmse, r2 (averaged over the outputs when there are several).
    """
    return {name: make_metric(task, name, num_classes).to(device) for name in names
            if name not in MATRIX_METRICS}


READOUTS: dict[Readout, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda x: x, "sigmoid": torch.sigmoid, "softmax": lambda x: x.softmax(-1),
    "exp": torch.exp, "clip": lambda x: x.clamp(0.0, 1.0),
}


def read_output(output: torch.Tensor, space: Space, task: Task) -> torch.Tensor:
    """The scored output as `task` is scored on it (see `output_space.readout`): label or
    class probabilities, or regression values in the targets' units."""
    return READOUTS[readout(space, task)](output.float() if task != "regression" else output)


def metric_inputs(output: torch.Tensor, targets: torch.Tensor, task: Task,
                  space: Space = "logits") -> tuple[torch.Tensor, torch.Tensor]:
    """What torchmetrics expects from the model's scored output, in `space`, and the split's
    targets: probabilities (of each label, or over the classes) for the class tasks, values
    for regression."""
    preds = read_output(output, space, task)
    if task == "binary":
        return preds.reshape(-1), targets.reshape(-1).long()  # (n,), (n,)
    if task == "multilabel":
        return preds, targets.long()  # (n, labels)
    if task == "classification":  # probabilities as targets (soft labels): their top class
        return preds, targets.argmax(-1) if targets.is_floating_point() else targets
    if task in PER_TOKEN:  # (n, T, C) -> (n*T, C): one row per position
        return preds.reshape(-1, preds.shape[-1]), targets.reshape(-1)
    if preds.shape[-1] == 1:
        return preds.reshape(-1), targets.reshape(-1)  # one regression output: (n,)
    return preds, targets


def _batches(model: torch.nn.Module, data: Tensors, batch_size: int):
    """(what the model returns, the batch) over a whole split, in eval mode."""
    model.eval()
    for start in range(0, len(data), batch_size):
        batch = data.rows(slice(start, start + batch_size))
        yield forward(model, batch), batch


@torch.inference_mode()
def evaluate(model: torch.nn.Module, data: Tensors, loss_fn: torch.nn.Module, metrics: MetricSet, task: Task, prefix: str,
             outputs: ModelOutputs = SINGLE_OUTPUT, batch_size: int = 1024
             ) -> dict[str, float]:
    """Loss and metrics of `model` (in eval mode) over a whole split, named `<prefix>_<metric>`.

    The loss (and each term of a loss of several terms, as `<prefix>_loss_<term>`) is the
    sample-weighted mean of the batch losses; the metrics score the output that `outputs`
    says the targets score. Leaves the model in eval mode. In a distributed run `data` is
    this process's shard: the sums and the metrics' states are added up over the processes.
    """
    from dlspec.train.distributed.evaluation import reduce_totals

    totals = dict.fromkeys(loss_fn.keys, torch.zeros((), device=data.device))
    for returned, batch in _batches(model, data, batch_size):
        for key, value in loss_fn.parts(returned, batch.y, batch.inputs).items():
            totals[key] = totals[key] + value * len(batch)
        scored = outputs.scored_tensor(returned)
        if scored is not None and metrics:
            preds, targets = metric_inputs(scored, batch.y, task, outputs.space)
            for metric in metrics.values():
                metric.update(preds, targets)
    totals, count = reduce_totals(totals, len(data))
    values = {f"{prefix}_{key}": (total / count).item() for key, total in totals.items()}
    for name, metric in metrics.items():
        values[f"{prefix}_{name}"] = float(metric.compute())
        metric.reset()
    return values


@torch.inference_mode()
def confusion_matrix(model: torch.nn.Module, data: Tensors, task: Task,
                     num_classes: int, outputs: ModelOutputs = SINGLE_OUTPUT,
                     batch_size: int = 1024) -> list:
    """Counts [true][predicted] over a split: (C, C) for classification and tagging,
    (2, 2) for binary, (labels, 2, 2) for multilabel (one 2x2 matrix per label)."""
    metric = make_metric(task, "confusion_matrix", num_classes).to(data.device)
    for returned, batch in _batches(model, data, batch_size):
        metric.update(*metric_inputs(outputs.scored_tensor(returned), batch.y, task,
                                     outputs.space))
    return metric.compute().long().tolist()


def save_confusion_matrix(run_dir: Path | None, model: torch.nn.Module, tensors: Tensors,
                          data: PreparedData, names: list[str] | None,
                          outputs: ModelOutputs = SINGLE_OUTPUT, batch_size: int = 1024
                          ) -> Path | None:
    """When `names` (train.metrics) asks for confusion_matrix, write the test split's to
    run_dir/confusion_matrix.json with its class names; the file, or None. A distributed
    run's processes each count their shard (torchmetrics adds the counts up); those other
    than rank 0 have no `run_dir` and write nothing."""
    if "confusion_matrix" not in (names or ()) or outputs.scored is None or \
            (len(tensors) == 0 and run_dir is not None):  # an empty shard still counts
        return None
    matrix = confusion_matrix(model, tensors, data.task, data.num_classes, outputs, batch_size)
    if run_dir is None:
        return None
    path = Path(run_dir) / "confusion_matrix.json"
    atomic_write_text(path, json.dumps({"task": data.task, "classes": data.class_names,
                                        "rows": "true class", "columns": "predicted class",
                                        "matrix": matrix}) + "\n")
    return path

"""Validation and test metrics (torchmetrics), and the evaluation pass that computes them."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchmetrics import Metric, classification, regression

from dlspec.train.config_base import Task

MetricSet = dict[str, Metric]


def _classification(name: str, num_classes: int) -> Metric:
    options = {"num_classes": num_classes, "validate_args": False}
    if name == "accuracy":
        return classification.MulticlassAccuracy(average="micro", **options)
    makers = {"f1": classification.MulticlassF1Score, "recall": classification.MulticlassRecall,
              "precision": classification.MulticlassPrecision}
    return makers[name](average="macro", **options)


def _binary(name: str) -> Metric:
    makers = {"accuracy": classification.BinaryAccuracy, "f1": classification.BinaryF1Score,
              "precision": classification.BinaryPrecision,
              "recall": classification.BinaryRecall, "auroc": classification.BinaryAUROC}
    return makers[name](validate_args=False)


def _regression(name: str) -> Metric:
    makers: dict[str, Callable[[], Metric]] = {
        "mae": regression.MeanAbsoluteError,
        "mse": regression.MeanSquaredError,
        "rmse": lambda: regression.MeanSquaredError(squared=False),
        "r2": regression.R2Score,
    }
    return makers[name]()


def build_metrics(task: Task, names: tuple[str, ...], num_classes: int,
                  device: str | torch.device) -> MetricSet:
    """The torchmetrics objects for `names` (already checked against the task), on `device`.

    classification: accuracy (micro), f1/precision/recall (macro average over classes);
    binary: computed on sigmoid(logits) with threshold 0.5 (auroc on the probabilities);
    regression: mae, mse, rmse, r2 (averaged over the outputs when there are several).
    """
    if task == "classification":
        metrics = {name: _classification(name, num_classes) for name in names}
    elif task == "binary":
        metrics = {name: _binary(name) for name in names}
    else:
        metrics = {name: _regression(name) for name in names}
    return {name: metric.to(device) for name, metric in metrics.items()}


def metric_inputs(logits: torch.Tensor, targets: torch.Tensor,
                  task: Task) -> tuple[torch.Tensor, torch.Tensor]:
    """What torchmetrics expects from the model's logits and the split's targets."""
    if task == "binary":
        return torch.sigmoid(logits).reshape(-1), targets.reshape(-1).long()  # (n,), (n,)
    if task == "regression" and logits.shape[-1] == 1:
        return logits.reshape(-1), targets.reshape(-1)  # one output: (n,)
    return logits, targets


@torch.inference_mode()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
             loss_fn: torch.nn.Module, metrics: MetricSet, task: Task, prefix: str,
             batch_size: int = 1024) -> dict[str, float]:
    """Loss and metrics of `model` (in eval mode) over a whole split, named `<prefix>_<metric>`.

    The loss is the sample-weighted mean of the batch losses. Leaves the model in eval mode.
    """
    model.eval()
    total = torch.zeros((), device=x.device)
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        logits = model(xb)
        total += loss_fn(logits, yb) * len(xb)
        preds, targets = metric_inputs(logits, yb, task)
        for metric in metrics.values():
            metric.update(preds, targets)
    values = {f"{prefix}_loss": (total / len(x)).item()}
    for name, metric in metrics.items():
        values[f"{prefix}_{name}"] = float(metric.compute())
        metric.reset()
    return values

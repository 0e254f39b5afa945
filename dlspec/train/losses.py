"""The spec's `loss:` as a torch loss module, checked against the task and the data."""

from __future__ import annotations

import torch
from torch import nn

from dlspec.errors import Diagnostic, TrainError
from dlspec.train.config import LOSS_TASKS, LossConfig
from dlspec.train.config_base import Task


def build_loss(config: LossConfig, task: Task, num_classes: int = 0) -> nn.Module:
    """The loss module for `config`; mean-reduced, so a batch's loss is its average.

    Raises TrainError DLS402 when the loss does not fit the task (e.g. mse on class labels)
    or when `class_weights` has not one weight per class.
    """
    expected = LOSS_TASKS[config.op]
    if expected != task:
        raise TrainError(Diagnostic(
            "DLS402", f"loss '{config.op}' is for {expected} targets, but the data is a "
                      f"{task} task",
            hint=f"use the loss {_loss_for(task)}, or set data.task to {expected}"))
    if config.op == "cross_entropy":
        return nn.CrossEntropyLoss(weight=_class_weights(config.class_weights, num_classes),
                                   label_smoothing=config.label_smoothing)
    if config.op == "bce_with_logits":
        pos_weight = None if config.pos_weight is None else torch.tensor([config.pos_weight])
        return nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    return nn.MSELoss() if config.op == "mse" else nn.L1Loss()


def _class_weights(weights: list[float] | None, num_classes: int) -> torch.Tensor | None:
    if weights is None:
        return None
    if num_classes and len(weights) != num_classes:
        raise TrainError(Diagnostic(
            "DLS402", f"class_weights has {len(weights)} weights but the data has "
                      f"{num_classes} classes",
            hint="give one weight per class, in the order of the class names"))
    return torch.tensor(weights, dtype=torch.float32)


def _loss_for(task: Task) -> str:
    return " or ".join(op for op, loss_task in LOSS_TASKS.items() if loss_task == task)

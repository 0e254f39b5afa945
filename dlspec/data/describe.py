"""What a model must agree with in its data, checked without loading it: the static facts
of a dataset and every way a model's input and outputs can disagree with them.

Numpy-free for built-in datasets, so `dlspec validate` stays light; files are read (with
numpy) only when their facts are asked for.
"""

from __future__ import annotations

import math
from pathlib import Path

from dlspec.data.builtin import BUILTIN, DatasetInfo
from dlspec.data.config import DataConfig
from dlspec.data.types import Task
from dlspec.errors import Diagnostic


def misfit(message: str, hint: str | None = None) -> Diagnostic:
    """A DLS402: the model and the data do not fit together."""
    return Diagnostic("DLS402", message, hint=hint)


def describe_data(config: DataConfig, base_dir: Path) -> DatasetInfo:
    """Static facts about the configured dataset, for checking a model against it.

    Built-in datasets are described from the static table alone (scikit-learn is not
    imported); csv and npz files are read, since the class labels live in the file.
    """
    if config.dataset in BUILTIN:
        return BUILTIN[config.dataset]
    from dlspec.data.prepare import info_from_raw, load_raw  # reading files needs numpy

    raw, source = load_raw(config, base_dir)
    return info_from_raw(raw, source)


def _task_diagnostics(info: DatasetInfo, task: Task, num_outputs: int) -> list[Diagnostic]:
    k = info.num_classes
    if task != "regression" and info.task == "regression":
        return [misfit(f"{info.name} has continuous targets, but the task is {task}",
                        hint="use a regression loss, or a target column of class labels")]
    if task == "regression" and info.task == "classification":
        return [misfit(f"{info.name} holds class labels ({k} classes), but the task is "
                        "regression", hint="use a classification loss for this dataset")]
    if task == "classification" and num_outputs != k:
        return [misfit(f"{info.name} has {k} classes, but the model has {num_outputs} outputs",
                        hint=f"set the last layer's out_features to {k}")]
    if task == "binary" and k != 2:
        return [misfit(f"binary classification needs exactly two classes, but {info.name} "
                        f"has {k}", hint="use a multi-class classification loss and set the "
                        f"last layer's out_features to {k}")]
    if task == "binary" and num_outputs != 1:
        return [misfit(f"binary classification takes one output (a logit), but the model "
                        f"has {num_outputs}", hint="set the last layer's out_features to 1")]
    if task == "regression" and num_outputs != info.n_targets:
        return [misfit(f"{info.name} has {info.n_targets} target column(s), but the model "
                        f"has {num_outputs} outputs",
                        hint=f"set the last layer's out_features to {info.n_targets}")]
    return []


def fit_diagnostics(info: DatasetInfo, input_shape: tuple[int, ...], task: Task,
                    num_outputs: int) -> list[Diagnostic]:
    """Every way the model's input shape and outputs disagree with the data (DLS402)."""
    problems = []
    per_sample = math.prod(input_shape)
    if per_sample != info.n_features:
        problems.append(misfit(
            f"the model's input shape {list(input_shape)} takes {per_sample} values per sample, "
            f"but {info.name} has {info.n_features} features",
            hint=f"use an input shape whose sizes multiply to {info.n_features}, "
            f"e.g. [{info.n_features}]",
        ))
    return problems + _task_diagnostics(info, task, num_outputs)

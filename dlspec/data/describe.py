"""What a model must agree with in its data, checked without loading it: the static facts
of a dataset and every way a model's input and outputs can disagree with them.

Numpy-free for built-in and synthetic datasets, so `dlspec validate` stays light; files are
read (with numpy) only when their facts are asked for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dlspec.data.augment_config import AugmentConfig, augment_problems
from dlspec.data.builtin import BUILTIN, DatasetInfo
from dlspec.data.config import DataConfig
from dlspec.data.synthetic import SYNTHETIC, describe_synthetic, synthetic_params
from dlspec.data.tasks import PER_TOKEN, Task, output_shape, shape_text
from dlspec.errors import Diagnostic

Dim = int | str


@dataclass(frozen=True)
class ModelIO:
    """The model's one input and the output its data's targets score, as the data sees them,
    per sample (no batch); `output_shape` is None when the loss reads no targets.

    Symbolic dims (str) fit any size within their `dims` bounds (min, max or None);
    `vocabulary` is the row count of the smallest embedding reading the input, if any.
    """

    input_shape: tuple[Dim, ...]
    output_shape: tuple[Dim, ...] | None
    input_name: str = "x"
    input_dtype: str = "float32"
    vocabulary: int | None = None
    dims: Mapping[str, tuple[int, int | None]] = field(default_factory=dict)


def misfit(message: str, hint: str | None = None) -> Diagnostic:
    """A DLS402: the model and the data do not fit together."""
    return Diagnostic("DLS402", message, hint=hint)


def static_info(config: DataConfig) -> DatasetInfo | None:
    """The facts of a built-in or synthetic dataset, known without loading it (else None)."""
    if config.dataset in BUILTIN:
        return BUILTIN[config.dataset]
    if config.dataset in SYNTHETIC:
        params = synthetic_params(config.dataset, config.synthetic_params())
        return describe_synthetic(config.dataset, params)
    return None


def describe_data(config: DataConfig, base_dir: Path) -> DatasetInfo:
    """Static facts about the configured dataset, for checking a model against it.

    Built-in and synthetic datasets are described from static tables alone (neither
    scikit-learn nor numpy is imported); csv and npz files are read, since the class labels
    live in the file.
    """
    info = static_info(config)
    if info is not None:
        return info
    from dlspec.data.prepare import info_from_raw, load_raw  # reading files needs numpy

    raw, source = load_raw(config, base_dir)
    return info_from_raw(raw, source)


def readable_tasks(info: DatasetInfo) -> tuple[Task, ...]:
    """The tasks the dataset's targets can be trained for."""
    if info.task in ("regression", "multilabel", *PER_TOKEN):
        return (info.task,)
    if info.task is None and info.n_targets > 1:  # 0/1 columns: labels or numbers
        return ("multilabel", "regression")
    classes: tuple[Task, ...] = ("classification", "binary") if info.num_classes == 2 \
        else ("classification",)
    return classes if info.task == "classification" else (*classes, "regression")


def _wrong_task(info: DatasetInfo, task: Task) -> Diagnostic:
    k = info.num_classes
    if task == "binary" and "classification" in readable_tasks(info):
        return misfit(f"binary classification needs exactly two classes, but {info.name} has "
                      f"{k}", hint="use a multi-class classification loss and set the last "
                      f"layer's out_features to {k}")
    if info.task == "regression":
        return misfit(f"{info.name} has continuous targets, but the task is {task}",
                      hint="use a regression loss, or a target column of class labels")
    if task == "regression" and info.task == "classification":
        return misfit(f"{info.name} holds class labels ({k} classes), but the task is "
                      "regression", hint="use a classification loss for this dataset")
    readable = readable_tasks(info)
    what = {"multilabel": f"{k} 0/1 labels per sample", "tagging": "one class per token",
            "language_model": "next-token targets"}.get(info.task or readable[0],
                                                        "one class per sample")
    return misfit(f"{info.name} has {what}, but the task is {task}",
                  hint=f"set data.task to {' or '.join(readable)} and use a loss for it")


def _classes(info: DatasetInfo, task: Task) -> int:
    return {"binary": 1, "regression": info.n_targets}.get(task, info.num_classes)


def _target_shape(info: DatasetInfo, task: Task) -> tuple[int, ...]:
    """One sample's targets as `_targets` in prepare.py shapes them."""
    if task in PER_TOKEN:
        return (info.sample_shape or (info.n_features,))[:1]
    return () if task == "classification" else (_classes(info, task),)


def _output_diagnostics(info: DatasetInfo, task: Task, got: tuple[Dim, ...]) -> list[Diagnostic]:
    want = output_shape(task, _target_shape(info, task), info.num_classes)
    if len(got) != len(want):
        return [misfit(f"the model outputs {shape_text(got)}, but the {task} task on "
                       f"{info.name} trains on outputs {shape_text(want)}")]
    if isinstance(got[-1], int) and got[-1] != want[-1]:
        return [misfit(_count_message(info, task, got[-1]),
                       hint=f"set the last layer's out_features to {want[-1]}")]
    if len(want) == 2 and isinstance(got[0], int) and got[0] != want[0]:
        return [misfit(f"the model outputs {shape_text(got)}, but the sequences of "
                       f"{info.name} have {want[0]} positions", hint="keep the sequence dim: one output "
                       "vector per input position")]
    return []


def _count_message(info: DatasetInfo, task: Task, outputs: int) -> str:
    n = _classes(info, task)
    if task == "binary":
        return f"binary classification takes one output (a logit), but the model has {outputs}"
    if task == "regression":
        return f"{info.name} has {n} target column(s), but the model has {outputs} outputs"
    what = {"classification": f"{n} classes", "multilabel": f"{n} labels",
            "tagging": f"{n} classes per token",
            "language_model": f"a vocabulary of {n} tokens"}[task]
    return f"{info.name} has {what}, but the model has {outputs} outputs"


def _tabular_input(info: DatasetInfo, model: ModelIO) -> list[Diagnostic]:
    if model.input_dtype != "float32":
        return [misfit(f"{info.name} has float features, but the model's input is "
                       f"{model.input_dtype}", hint="declare the input with dtype: float32")]
    if not all(isinstance(d, int) for d in model.input_shape):
        return [misfit(f"{info.name} has {info.n_features} features per sample, but the "
                       f"model's input shape {list(model.input_shape)} has symbolic dims",
                       hint=f"use a fixed input shape, e.g. [{info.n_features}]")]
    per_sample = math.prod(model.input_shape)
    if per_sample == info.n_features:
        return []
    return [misfit(
        f"the model's input shape {list(model.input_shape)} takes {per_sample} values per "
        f"sample, but {info.name} has {info.n_features} features",
        hint=f"use an input shape whose sizes multiply to {info.n_features}, "
        f"e.g. [{info.n_features}]")]


def _sequence_input(info: DatasetInfo, model: ModelIO) -> list[Diagnostic]:
    shape, dtype = info.sample_shape or (), "int64" if info.vocab_size else "float32"
    if model.input_dtype != dtype:
        what = "token ids" if info.vocab_size else "float values"
        return [misfit(f"{info.name} holds {what} ({dtype}), but the model's input is "
                       f"{model.input_dtype}", hint=f"declare the input with dtype: {dtype}")]
    if len(model.input_shape) != len(shape) or any(
            isinstance(d, int) and d != size
            for d, size in zip(model.input_shape, shape, strict=False)):
        second = f", {shape[1]}" if len(shape) > 1 else ""
        return [misfit(f"the model's input shape {list(model.input_shape)} does not fit the "
                       f"samples of {info.name}, of shape {list(shape)}",
                       hint=f"use shape: {list(shape)}, or name the sequence dim "
                            f"(e.g. [seq{second}])")]
    problems = []
    for d, size in zip(model.input_shape, shape, strict=True):
        low, high = model.dims.get(d, (1, None)) if isinstance(d, str) else (1, None)
        if size < low or (high is not None and size > high):
            problems.append(misfit(
                f"the input dim '{d}' is bounded to {low}..{high or 'any'}, but the sequences "
                f"of {info.name} have {size} positions", hint=f"let '{d}' take {size} (inputs.*.dims)"))
    if info.vocab_size and model.vocabulary is not None and model.vocabulary < info.vocab_size:
        problems.append(misfit(
            f"the embedding reading the input has {model.vocabulary} rows, but {info.name} "
            f"has token ids 0..{info.vocab_size - 1}",
            hint=f"set the embedding's num_embeddings to {info.vocab_size}"))
    return problems


def fit_diagnostics(info: DatasetInfo, model: ModelIO, task: Task) -> list[Diagnostic]:
    """Every way the model's input and output disagree with the data and the task (DLS402)."""
    check_input = _tabular_input if info.sample_shape is None else _sequence_input
    problems = check_input(info, model)
    if task not in readable_tasks(info):
        return [*problems, _wrong_task(info, task)]
    if model.output_shape is None:
        return problems
    return problems + _output_diagnostics(info, task, tuple(model.output_shape))


def augment_diagnostics(augment: AugmentConfig | None, model: ModelIO, task: Task,
                        loss_ops: tuple[str, ...] = ()) -> dict[str, Diagnostic]:
    """The augmentations that cannot apply to the model's input, the task or the losses
    comparing with the targets (`loss_ops`), by field."""
    if augment is None:
        return {}
    problems = augment_problems(augment, model.input_shape, model.input_dtype, task,
                                model.vocabulary, loss_ops)
    return {name: misfit(f"data.augment.{name}: {reason}",
                         hint=f"remove data.augment.{name}") for name, reason in problems.items()}

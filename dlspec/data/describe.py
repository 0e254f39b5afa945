"""What a model must agree with in its data, checked without loading it: the static facts
of a dataset and every way a model's input and outputs can disagree with them.

Numpy-free for built-in and synthetic datasets, so `dlspec validate` stays light; files are
read (with numpy) only when their facts are asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dlspec.data.augment_config import AugmentConfig, augment_problems
from dlspec.data.builtin import BUILTIN, DatasetInfo
from dlspec.data.config import DataConfig
from dlspec.data.fields import (
    AT_DATASET,
    DataKey,
    Dim,
    InputIO,
    declared_fields,
    feed_problems,
    input_problems,
    misfit,
)
from dlspec.data.image_config import IMAGES
from dlspec.data.synthetic import SYNTHETIC, describe_synthetic, synthetic_form, synthetic_params
from dlspec.data.tasks import PER_TOKEN, Task, output_shape, shape_text
from dlspec.data.text_config import TEXT, is_table
from dlspec.errors import Diagnostic


@dataclass(frozen=True)
class ModelIO:
    """The model's (first) input and the output its data's targets score, as the data sees
    them, per sample (no batch); `output_shape` is None when the loss reads no targets.

    Symbolic dims (str) fit any size within their `dims` bounds (min, max or None);
    `vocabulary` is the row count of the smallest embedding reading the input, if any.
    `inputs` lists every input of a model with several, in its order (the first is the one
    the fields above describe); empty for a model with one input.
    """

    input_shape: tuple[Dim, ...]
    output_shape: tuple[Dim, ...] | None
    input_dtype: str = "float32"
    vocabulary: int | None = None
    dims: Mapping[str, tuple[int, int | None]] = field(default_factory=dict)
    input_name: str = "x"
    inputs: tuple[InputIO, ...] = ()

    def all_inputs(self) -> tuple[InputIO, ...]:
        """Every input of the model, in its order."""
        return self.inputs or (InputIO(self.input_name, tuple(self.input_shape),
                                       self.input_dtype, self.vocabulary),)


def static_info(config: DataConfig, inputs: Sequence[str] = ()) -> DatasetInfo | None:
    """The facts of a built-in or synthetic dataset, known without loading it (else None),
    in the form a model with `inputs` (its input names) is fed (synthetic_form)."""
    if config.dataset in BUILTIN:
        return BUILTIN[config.dataset]
    if config.dataset in SYNTHETIC:
        params = synthetic_params(config.dataset, config.synthetic_params())
        return describe_synthetic(config.dataset, params, synthetic_form(config.dataset, inputs))
    return None


def describe_data(config: DataConfig, base_dir: Path, inputs: Sequence[str] = (),
                  task: Task | None = None) -> DatasetInfo:
    """Static facts about the configured dataset, for checking a model against it.

    Built-in and synthetic datasets are described from static tables alone (neither
    scikit-learn nor numpy is imported); csv and npz files are read, since the class labels
    live in the file. Categorical columns are encoded with the categories of the train
    split of the `task` (the data's own when None), as training encodes them.
    """
    info = static_info(config, inputs)
    if info is not None:
        return info
    if config.dataset == IMAGES:  # listed, headers read: no pixel decoded
        from dlspec.data.image_prepare import describe_images

        return describe_images(config, base_dir)
    if config.dataset == TEXT:  # reads the file: its characters, or its rows and labels
        from dlspec.data.text_files import describe_text

        return describe_text(config, base_dir)
    from dlspec.data.prepare import encoded_table, info_from_raw, load_table  # numpy

    raw, source, categories = load_table(config, base_dir)
    return info_from_raw(encoded_table(raw, categories, config, task, source)[0], source)


def own_tasks(config: DataConfig) -> tuple[Task, ...]:
    """The tasks a dataset's targets can be trained for, known from the spec alone (empty
    when the file must be read: a CSV's labels may be classes or numbers)."""
    info = static_info(config)
    if info is not None:
        return readable_tasks(info)
    return ("language_model",) if config.dataset == TEXT and not is_table(config.text) else ()


def readable_tasks(info: DatasetInfo) -> tuple[Task, ...]:
    """The tasks the dataset's targets can be trained for."""
    if info.task in ("regression", "multilabel", *PER_TOKEN):
        return (info.task,)
    if info.task == "classification" and info.n_targets > 1:  # class probabilities
        return ("classification", "regression")
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


def fit_diagnostics(info: DatasetInfo, model: ModelIO, task: Task) -> list[Diagnostic]:
    """Every way the model's inputs and output disagree with the data and the task (DLS402)."""
    return [problem for _, problem in fit_problems(info, model, task)]


def fit_problems(info: DatasetInfo, model: ModelIO, task: Task,
                 config: DataConfig | None = None) -> list[tuple[DataKey, Diagnostic]]:
    """`fit_diagnostics`, each with the key of the `data:` section it belongs at; `config`
    tells which fields the spec declares (npz arrays, CSV column groups)."""
    declared = {} if config is None else declared_fields(config, info)
    by_name = config is not None and config.inputs is not None
    inputs = model.all_inputs()
    problems = feed_problems(info, inputs, declared, by_name=by_name,
                             dataset="" if config is None else config.dataset)
    if config is not None and config.dataset == IMAGES:  # resized to any (C, H, W)
        from dlspec.data.image_prepare import image_input_problems

        problems += image_input_problems(info, inputs)
    else:
        problems += input_problems(info, inputs, model.dims, declared, by_name=by_name)
    if task not in readable_tasks(info):
        return [*problems, (AT_DATASET, _wrong_task(info, task))]
    problems += _sampling_problems(info, task, config)
    if model.output_shape is None:
        return problems
    return problems + [(AT_DATASET, problem) for problem in
                       _output_diagnostics(info, task, tuple(model.output_shape))]


def _sampling_problems(info: DatasetInfo, task: Task, config: DataConfig | None
                       ) -> list[tuple[DataKey, Diagnostic]]:
    """data.sampling balances classes: it needs one class label per sample."""
    if config is None or config.sampling == "none":
        return []
    if task not in ("classification", "binary"):
        reason = f"a {task} task has no class per sample"
    elif info.n_targets > 1:
        reason = "the targets are class probabilities, not one class per sample"
    else:
        return []
    return [(("data", "sampling"), misfit(
        f"sampling: {config.sampling} balances the classes of the train split, but {reason}",
        hint="use sampling: none (or class_weights in the loss)"))]


def soft_label_problems(info: DatasetInfo, task: Task, loss_ops: tuple[str, ...]
                        ) -> list[tuple[DataKey, Diagnostic]]:
    """Class probabilities as targets (data.target lists a column per class) are read by
    cross_entropy and kl_div; the losses of class indices (nll, focal) cannot read them."""
    if info.task != "classification" or info.n_targets < 2:
        return []
    return [(("data", "target"), misfit(
        f"the targets are class probabilities (a column per class), but {op} takes class "
        f"indices", hint="use cross_entropy (or kl_div on log-probabilities), or name one "
        "column of class labels in data.target")) for op in loss_ops if op in ("nll", "focal")]


def augment_diagnostics(augment: AugmentConfig | None, model: ModelIO, task: Task,
                        loss_ops: tuple[str, ...] = ()) -> dict[str, Diagnostic]:
    """The augmentations that cannot apply to the model's (first) input, the task or the
    losses comparing with the targets (`loss_ops`), by field. Augmentations change the
    first input only, so mixup, which blends the targets too, needs a model with one."""
    if augment is None:
        return {}
    problems = augment_problems(augment, model.input_shape, model.input_dtype, task,
                                model.vocabulary, loss_ops)
    inputs = [i.name for i in model.all_inputs()]
    if augment.mixup and len(inputs) > 1 and "mixup" not in problems:
        problems["mixup"] = (f"mixup blends the model's first input and the targets, but "
                             f"this model has {len(inputs)} inputs ({', '.join(inputs)}): "
                             f"the others would not be blended with them")
    return {name: misfit(f"data.augment.{name}: {reason}",
                         hint=f"remove data.augment.{name}") for name, reason in problems.items()}

"""Check the model against its data before any training: every input against the data field
feeding it (name, shape, dtype), classes, targets, the task and the augmentations.

Built-in and synthetic datasets are checked from static metadata, so this needs neither
torch, numpy nor scikit-learn.
"""

from __future__ import annotations

from dlspec.compiler import CheckedSpec
from dlspec.data.augment_config import target_losses
from dlspec.data.describe import (
    ModelIO,
    augment_diagnostics,
    describe_data,
    fit_problems,
    own_tasks,
    soft_label_problems,
)
from dlspec.data.fields import DataKey, InputIO, keys_of
from dlspec.data.tasks import PER_TOKEN, Task, same_targets
from dlspec.errors import DataError, Diagnostic
from dlspec.passes.check_objective import fed_inputs, roles_of
from dlspec.train.recipe.config import implied_task
from dlspec.train.recipe.loss_config import scored_output


def task_of(spec) -> Task:
    """The task a spec trains for: stated in `data.task`; else the dataset's own task when
    it has only one that the loss's targets fit (copy: tagging); else implied by the loss."""
    data = spec.data
    if data is not None and data.task:
        return data.task
    implied = implied_task(spec.loss)
    own = own_tasks(data) if data is not None else ()
    if len(own) == 1 and (implied is None or same_targets(own[0], implied)):
        return own[0]
    return implied or "classification"


def model_io(checked: CheckedSpec) -> ModelIO | None:
    """The inputs and output of the model the data feeds, as the data sees them (None
    without data): the output is the one the data's targets score (None when the loss, or
    the objective, reads no targets)."""
    spec, graph = checked.spec, checked.graph
    if spec.data is None or not graph.inputs:
        return None
    scored = _scored(checked) if roles_of(spec).reads_loss else None
    fed = fed_inputs(checked)  # the data's inputs: all but those the objective feeds
    inputs = tuple(_input_io(checked, name) for name in fed)
    dims = {dim: (bounds.min, bounds.max) for name in fed
            for dim, bounds in checked.inputs[name].dims.items()}
    first = inputs[0]
    return ModelIO(
        input_shape=first.shape, input_dtype=first.dtype, input_name=first.name,
        output_shape=None if scored is None else graph.node(scored).type.sample_shape,
        vocabulary=first.vocabulary, dims=dims, inputs=inputs if len(inputs) > 1 else ())


def _input_io(checked: CheckedSpec, name: str) -> InputIO:
    graph = checked.graph
    input_type = graph.node(name).type
    vocabularies = [node.op.num_embeddings for node in graph.layers()
                    if name in node.inputs and hasattr(node.op, "num_embeddings")]
    return InputIO(name, input_type.sample_shape, input_type.dtype,
                   min(vocabularies) if vocabularies else None)


def _scored(checked: CheckedSpec) -> str | None:
    """The model output the data's targets score; None when there is none (or the loss
    names one the model lacks, which the loss check reports)."""
    outputs = checked.graph.outputs
    scored = scored_output(checked.spec.loss, outputs)
    return scored if scored in outputs else None


def data_diagnostics(checked: CheckedSpec) -> list[Diagnostic]:
    """Every disagreement between the model and its data, located at the `data` section
    (an output that cannot feed the loss at all is located at the output layer, a bad
    augmentation at its key)."""
    model = model_io(checked)  # None when training cannot feed the model (check_trainable)
    if model is None:
        return []
    problems = output_rank_diagnostics(checked)
    if problems:
        return problems
    task = task_of(checked.spec)
    source = checked.loaded.source
    problems = augment_diagnostics(checked.spec.data.augment, model, task,
                                   target_losses(checked.spec.loss))
    located = [problem.at(source.span(("data", "augment", name)))
               for name, problem in problems.items()]
    config = checked.spec.data
    try:
        info = describe_data(config, checked.loaded.base_dir, fed_inputs(checked), task)
    except DataError as err:
        return located_data_error(checked, err) + located
    problems = soft_label_problems(info, task, target_losses(checked.spec.loss))
    return at_keys(checked, fit_problems(info, model, task, config) + problems) + located


def output_rank_diagnostics(checked: CheckedSpec) -> list[Diagnostic]:
    """An output that the task's loss cannot take: (N, outputs), or (N, T, classes) for the
    per-token tasks."""
    model = model_io(checked)
    if model is None or model.output_shape is None:
        return []
    task = task_of(checked.spec)
    rank = 3 if task in PER_TOKEN else 2
    if len(model.output_shape) + 1 == rank:
        return []
    output = checked.graph.node(_scored(checked))
    if rank == 3:
        want, hint = "(N, T, classes): one score vector per position", (
            "keep the sequence dim: a linear layer on (N, T, features) gives (N, T, classes)")
    else:
        want, hint = "(N, outputs)", ("add a `flatten` (or `global_avg_pool2d`) layer before "
                                      "the last linear layer")
    return [Diagnostic(
        "DLS402", f"the model's output {output.type} has {output.type.rank} dims, but the "
        f"{task} task on {checked.spec.data.dataset} needs {want}", output.span,
        layer=output.name, op=output.op_name, hint=hint)]


def at_data(checked: CheckedSpec, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics without a place of their own, located at the spec's `data.dataset`."""
    span = checked.loaded.source.span(("data", "dataset"))
    return [d.at(span) for d in diagnostics]


def at_keys(checked: CheckedSpec, problems: list[tuple[DataKey, Diagnostic]]
            ) -> list[Diagnostic]:
    """Diagnostics located at the values of their keys in the `data:` section (e.g.
    `data.dataset`, `data.path`, a column group `data.inputs.image` or one of its columns)."""
    source = checked.loaded.source
    return [d.at(source.span(key)) for key, d in problems]


def located_data_error(checked: CheckedSpec, err: DataError) -> list[Diagnostic]:
    """A data error's diagnostics, each at its key of the `data:` section (see FieldError)."""
    return at_keys(checked, list(zip(keys_of(err), err.diagnostics, strict=True)))

"""What `dlspec train` checks of a spec before it trains, checked by `validate` at its place:
train fits one model to the data's (inputs, target) samples (checked again by
train, at the same place, before loading anything), in batches that batch norm can train on,
(`train.metrics` and the monitors are checked by check_monitor). Torch-free."""

from __future__ import annotations

import math

from dlspec.compiler import CheckedSpec
from dlspec.errors import Diagnostic
from dlspec.passes.check_data import task_of
from dlspec.passes.check_objective import objective_diagnostics, roles_of
from dlspec.train.recipe import default_loss


def trainable_diagnostics(checked: CheckedSpec) -> list[Diagnostic]:
    """The objective's problems (check_objective); DLS402 at `data` when the model has
    several outputs and no loss to say which one the targets score (every input is fed
    from the data field of its name, checked by check_data); DLS403 at `model` when a
    trained model has no parameters to train."""
    spec = checked.spec
    if spec.data is None:
        return objective_diagnostics(checked) if spec.objective is not None else []
    span = checked.loaded.source.key_span(("data",))
    problems = objective_diagnostics(checked)
    if problems or spec.models is not None:
        return problems or untrainable_models(checked)
    graph = checked.graph
    if not has_params(graph):
        return [Diagnostic(
            "DLS403", "the model has no trainable parameters, so `data:` has nothing to "
            "train", checked.loaded.source.key_span(("model",)),
            hint="add a layer with weights (linear, conv2d, embedding...), or remove `data:`")]
    outputs = graph.outputs
    # the loss check covers a loss that is given; an objective may read no loss at all
    if spec.loss is None and len(outputs) > 1 and roles_of(spec).reads_loss:
        return [Diagnostic(
            "DLS402", f"the model returns {len(outputs)} outputs {outputs}, and without a "
            "`loss:` section nothing says which one the data's targets score", span,
            hint=f"add a loss that names it, e.g. `loss: {{op: {default_loss(task_of(spec)).op}"
                 f", output: {outputs[0]}}}`")]
    return []


def has_params(graph) -> bool:
    """Whether any layer of the graph has a parameter."""
    return any(node.op.param_count(*[graph.node(i).type for i in node.inputs])
               for node in graph.layers())


def untrainable_models(checked: CheckedSpec) -> list[Diagnostic]:
    """DLS403 at `models.<name>` for each model the objective trains that has no
    parameters."""
    return [Diagnostic("DLS403", f"model '{name}' has no trainable parameters, so the "
                       "objective has nothing to update in it",
                       checked.loaded.source.key_span(("models", name)),
                       hint="add a layer with weights (linear, conv2d, embedding...)")
            for name in roles_of(checked.spec).trained
            if not has_params(checked.graphs[name])]


BATCH_NORMS = ("batchnorm1d", "batchnorm2d", "batchnorm3d")


def batch_size_diagnostics(checked: CheckedSpec) -> list[Diagnostic]:
    """DLS402 at `data.batch_size` when it is 1 and a batch norm would then see one value
    per channel in training (torch refuses: it cannot estimate a variance from one)."""
    spec = checked.spec
    if spec.data is None or spec.data.batch_size != 1:
        return []
    graph, problems = checked.graph, []
    for node in graph.layers():
        x = graph.node(node.inputs[0]).type if node.op_name in BATCH_NORMS else None
        if x is None or not all(isinstance(d, int) for d in x.shape[2:]):
            continue
        if math.prod(x.shape[2:]) == 1:
            problems.append(Diagnostic(
                "DLS402", f"batch_size 1 cannot train layer '{node.name}' ({node.op_name}): "
                f"on {x} it would see one value per channel in a batch, and batch norm "
                "needs more to estimate a variance",
                checked.loaded.source.span(("data", "batch_size")),
                hint="use batch_size: 2 or more (or a layernorm, which normalizes each sample)"))
    return problems[:1]

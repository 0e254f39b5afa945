"""Check the model against its data before any training: input size, classes, targets.

Built-in datasets are checked from static metadata, so this needs neither torch nor
scikit-learn.
"""

from __future__ import annotations

from dlspec.compiler import CheckedSpec
from dlspec.data.describe import describe_data, fit_diagnostics
from dlspec.data.types import Task
from dlspec.errors import DataError, Diagnostic
from dlspec.ir.types import TensorType
from dlspec.train.config import LOSS_TASKS


def task_of(spec) -> Task:
    """The task a spec trains for: stated in `data.task`, else implied by the loss."""
    if spec.data is not None and spec.data.task:
        return spec.data.task
    return LOSS_TASKS.get(spec.loss.op if spec.loss else "", "classification")


def data_diagnostics(checked: CheckedSpec) -> list[Diagnostic]:
    """Every disagreement between the model and its data, located at the `data` section
    (an output that cannot feed the loss at all is located at the output layer)."""
    shapes = static_shapes(checked)
    if shapes is None:
        return []
    problems = output_rank_diagnostics(checked)
    if problems:
        return problems
    try:
        info = describe_data(checked.spec.data, checked.loaded.base_dir)
    except DataError as err:
        return at_data(checked, err.diagnostics)
    input_type, output_type = shapes
    return at_data(checked, fit_diagnostics(info, input_type.sample_shape,
                                            task_of(checked.spec), output_type.shape[-1]))


def static_shapes(checked: CheckedSpec) -> tuple[TensorType, TensorType] | None:
    """The input and output types when the model can be checked against tabular data: one
    input, one output, and fixed sizes (sequence data is checked when it is loaded)."""
    spec, graph = checked.spec, checked.graph
    if spec.data is None or len(graph.inputs) != 1 or len(graph.outputs) != 1:
        return None
    input_type = graph.node(graph.inputs[0]).type
    output_type = graph.node(graph.outputs[0]).type
    if not all(isinstance(d, int) for d in (*input_type.sample_shape, output_type.shape[-1])):
        return None
    return input_type, output_type


def output_rank_diagnostics(checked: CheckedSpec) -> list[Diagnostic]:
    """An output that no loss can take: every task's loss wants (N, outputs)."""
    shapes = static_shapes(checked)
    if shapes is None or shapes[1].rank == 2:
        return []
    output = checked.graph.node(checked.graph.outputs[0])
    return [Diagnostic(
        "DLS402", f"the model's output {output.type} has {output.type.rank} dims, but "
        f"training on {checked.spec.data.dataset} needs (N, outputs)", output.span,
        layer=output.name, op=output.op_name,
        hint="add a `flatten` (or `global_avg_pool2d`) layer before the last linear layer")]


def at_data(checked: CheckedSpec, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics without a place of their own, located at the spec's `data.dataset`."""
    span = checked.loaded.source.span(("data", "dataset"))
    return [d.at(span) for d in diagnostics]

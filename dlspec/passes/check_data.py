"""Check the model against its data before any training: input size, classes, targets.

Built-in datasets are checked from static metadata, so this needs neither torch nor
scikit-learn.
"""

from __future__ import annotations

from dlspec.compiler import CheckedSpec
from dlspec.data.prepare import describe_data, fit_diagnostics
from dlspec.data.types import Task
from dlspec.errors import DataError, Diagnostic
from dlspec.train.config import LOSS_TASKS


def task_of(spec) -> Task:
    """The task a spec trains for: stated in `data.task`, else implied by the loss."""
    if spec.data is not None and spec.data.task:
        return spec.data.task
    return LOSS_TASKS.get(spec.loss.op if spec.loss else "", "classification")


def data_diagnostics(checked: CheckedSpec) -> list[Diagnostic]:
    """Every disagreement between the model and its data, located at the `data` section
    (an output that cannot feed the loss at all is located at the output layer)."""
    spec, graph, source = checked.spec, checked.graph, checked.loaded.source
    if spec.data is None or len(graph.inputs) != 1 or len(graph.outputs) != 1:
        return []
    input_type = graph.node(graph.inputs[0]).type
    output_type = graph.node(graph.outputs[0]).type
    span = source.span(("data", "dataset"))
    if not all(isinstance(d, int) for d in (*input_type.sample_shape, output_type.shape[-1])):
        return []  # symbolic shapes: sequence data is checked when it is loaded
    if output_type.rank != 2:  # every task's loss takes (N, outputs)
        output = graph.node(graph.outputs[0])
        return [Diagnostic(
            "DLS402", f"the model's output {output_type} has {output_type.rank} dims, but "
            f"training on {spec.data.dataset} needs (N, outputs)", output.span,
            layer=output.name, op=output.op_name,
            hint="add a `flatten` (or `global_avg_pool2d`) layer before the last linear layer")]
    try:
        info = describe_data(spec.data, checked.loaded.base_dir)
    except DataError as err:
        return [d.at(span) for d in err.diagnostics]
    problems = fit_diagnostics(info, input_type.sample_shape, task_of(spec),
                               output_type.shape[-1])
    return [d.at(span) for d in problems]

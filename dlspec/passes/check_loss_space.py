"""Check each loss term against the task and the space of the output it reads (torch-free):
bce compares probabilities with 0/1 targets, so it cannot train a multi-class task nor read a
linear layer's scores; cross_entropy applies its own softmax, so it cannot read a softmax's
output. The spaces are declared on the losses (`LossBase.reads`) and the ops that fix an
output's space are listed in dlspec/train/scoring/output_space.py.
"""

from __future__ import annotations

from dlspec.compiler import CheckedSpec
from dlspec.errors import Diagnostic
from dlspec.ir.graph import Graph, Node
from dlspec.ir.types import TensorType
from dlspec.train.recipe import default_loss
from dlspec.train.recipe.loss_config import LossBase, task_problem
from dlspec.train.scoring.output_space import OP_SPACES, SAME_VALUES, space_conflict

# The loss to write instead of the task's default for an output in a space it cannot read.
FITTING_LOSS = {"probabilities": {"binary": "bce", "multilabel": "bce"},
                "log_probabilities": {"classification": "nll", "tagging": "nll",
                                      "language_model": "nll"}}


def term_task_problems(term: LossBase, graph: Graph, task: str) -> list[tuple[Diagnostic, str]]:
    """The term's disagreements with the task and with its output's space, each with the
    key of the term it is located at (its `op`)."""
    problem = task_problem(term, task)  # type: ignore[arg-type]
    if problem:
        return [(Diagnostic("DLS402", problem[0], hint=problem[1]), "op")]
    if term.arity != 1:
        return []
    name = term.outputs[0] if term.outputs else graph.outputs[0]
    source = value_source(graph, name)
    if source.is_input:
        return []
    conflict = space_conflict(term.op, term.reads, name, source.op_name, task)
    return [(Diagnostic("DLS402", conflict[0], hint=conflict[1]), "op")] if conflict else []


def value_source(graph: Graph, name: str) -> Node:
    """The layer that computes the values of `name`, looking through layers that only pass
    them on (reshapes, dropout)."""
    node = graph.node(name)
    while node.op_name in SAME_VALUES and node.inputs:
        node = graph.node(node.inputs[0])
    return node


def default_loss_problems(checked: CheckedSpec, task: str) -> list[Diagnostic]:
    """A spec that trains without a `loss:` gets its task's default (cross_entropy,
    bce_with_logits, mse): its one output must be in the space that loss reads. Located at
    the output layer."""
    graph = checked.graph
    if checked.spec.data is None or len(graph.outputs) != 1:
        return []
    loss, name = default_loss(task), graph.outputs[0]  # type: ignore[arg-type]
    node = graph.node(name)
    if not node.type.dtype.startswith("float"):
        return [integral_output(f"without a `loss:` section the {task} task's {loss.op}",
                                name, node.type).at(node.span, layer=name, op=node.op_name)]
    source = value_source(graph, name)
    subject = f"without a `loss:` section the {task} task trains with {loss.op}, which"
    conflict = None if source.is_input else space_conflict(
        loss.op, loss.reads, name, source.op_name, task, subject)
    if conflict is None:
        return []
    fitting = FITTING_LOSS.get(OP_SPACES[source.op_name], {}).get(task)
    hint = conflict[1] + (f"; or write `loss: {{op: {fitting}}}`" if fitting else "")
    return [Diagnostic("DLS402", conflict[0], node.span, layer=name, op=node.op_name,
                       hint=hint)]


def integral_output(reader: str, name: str, type_: TensorType) -> Diagnostic:
    """DLS402: `reader` (a loss) reads output `name` of integer values, which it cannot
    differentiate."""
    return Diagnostic("DLS402", f"{reader} reads '{name}', whose values are {type_.dtype} "
                                "(indices, not scores): a loss needs float outputs",
                      hint=f"end the model with a layer that makes floats from '{name}' "
                           "(an embedding or a linear layer)")

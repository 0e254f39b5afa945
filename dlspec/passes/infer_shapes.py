"""Static shape inference: walk the graph in topological order and apply each op's shape rule.

Torch-free. Every failing layer is reported with its name, op and file:line:col; layers fed
by a failed one are skipped, so one mistake gives one error rather than a cascade.
"""

from __future__ import annotations

from dataclasses import replace

from dlspec.errors import Diagnostic, RuleError, ShapeError
from dlspec.ir.graph import Graph, Node


def infer_shapes(graph: Graph) -> Graph:
    """Fill `node.type` for every layer. Raises ShapeError listing every failure."""
    problems: list[Diagnostic] = []
    for node in graph.layers():
        types = [graph.node(name).type for name in node.inputs]
        if any(t is None for t in types):
            continue  # an input already failed and was reported
        try:
            check_arity(node)
            node.type = node.op.infer(*types)
        except RuleError as err:
            problems.append(err.diagnostic().at(node.span, layer=node.name, op=node.op_name))
    if problems:
        raise ShapeError(once_per_place(problems))
    return graph


def once_per_place(problems: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per mistake: the same error at the same place in every instance of a
    block is reported once, naming the other instances."""
    layers: dict[tuple, list[str | None]] = {}
    for d in problems:
        layers.setdefault((d.code, d.message, d.span), []).append(d.layer)
    found = []
    for d in problems:
        others = layers.pop((d.code, d.message, d.span), None)
        if others is None:
            continue
        if len(others) > 1:
            shown = ", ".join(str(name) for name in others[1:4])
            more = f" and {len(others) - 4} more" if len(others) > 4 else ""
            d = replace(d, message=f"{d.message} (also in {shown}{more})")
        found.append(d)
    return found


def check_arity(node: Node) -> None:
    op = type(node.op)
    count = len(node.inputs)
    low, high = op.min_inputs, op.max_inputs
    if count < low or (high is not None and count > high):
        wanted = str(low) if low == high else (f"at least {low}" if high is None
                                               else f"{low} to {high}")
        hint = "list them with `inputs: [a, b]`" if low > 1 else \
            "give one input, or combine several first with add or concat"
        raise RuleError(f"takes {wanted} input{'s' if wanted != '1' else ''}, got {count}",
                        code="DLS203", hint=hint)


def unused_layers(graph: Graph) -> list[Diagnostic]:
    """Warnings for inputs and layers whose output nothing uses."""
    outputs = set(graph.outputs)
    return [Diagnostic("DLS304", f"the output of {'input' if n.is_input else 'layer'} "
                       f"'{n.name}' is never used", n.span, severity="warning",
                       hint="use it, list it in `outputs`, or remove it")
            for n in graph.nodes()
            if n.name not in outputs and graph.nx.out_degree(n.name) == 0]

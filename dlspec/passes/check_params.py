"""Check what layers say about their parameters against the parameters they will have: a
`tie` shares a weight of the same shape, and every `init` glob matches a parameter that its
scheme can initialize. Torch-free: each op declares its parameters' names and shapes
(`param_shapes`), so `validate` reports these at their line instead of `compile` or `train`
finding them while building the module (dlspec/backends/initialize.py checks the same).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from dlspec.errors import Diagnostic, SourceSpan, did_you_mean
from dlspec.ir.graph import Graph, Node
from dlspec.spec.yaml_source import SourceMap

# Schemes that need a weight of 2 or more dims (they read its fans); as torch.nn.init.
NEEDS_MATRIX = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
                "orthogonal")


def param_shapes(graph: Graph, node: Node) -> dict[str, tuple[int, ...]]:
    """The parameters the layer's module will have (names local to the layer)."""
    return node.op.param_shapes(*(graph.node(name).type for name in node.inputs))


def param_diagnostics(graph: Graph, source: SourceMap) -> list[Diagnostic]:
    """Every tie and init problem of a shape-checked graph, located at its key."""
    problems: list[Diagnostic] = []
    for node in graph.layers():
        if node.tie:
            problems += _tie_problems(graph, node)
        if node.init:
            problems += _init_problems(graph, node, source)
    return problems


def _tie_problems(graph: Graph, node: Node) -> list[Diagnostic]:
    where = node.places.get("tie", node.span)
    target = graph.node(node.tie)
    mine = param_shapes(graph, node).get("weight")
    theirs = None if target.is_input else param_shapes(graph, target).get("weight")
    if mine is None or theirs is None:
        return [Diagnostic("DLS102", f"cannot tie '{node.name}' to '{node.tie}': both need a "
                           "`weight`", where, layer=node.name, op=node.op_name,
                           hint="tie layers that have a weight: linear, embedding, conv")]
    if mine != theirs:
        return [Diagnostic(
            "DLS201", f"tied weights differ in shape: this layer's is {mine}, '{node.tie}' "
            f"has {theirs}", where, layer=node.name, op=node.op_name,
            hint="tie layers whose weights are the same matrix, e.g. an LM head (vocab x d) "
                 "and the token embedding (vocab x d)")]
    return []


def _init_problems(graph: Graph, node: Node, source: SourceMap) -> list[Diagnostic]:
    shapes = param_shapes(graph, node)
    problems = []
    for pattern, scheme in node.init.items():
        own = pattern in node.init_strict
        where = _init_place(node, pattern, own, source)
        matched = [name for name in shapes if fnmatchcase(name, pattern)]
        if not matched and own:
            problems.append(Diagnostic(
                "DLS102", f"init '{pattern}' matches no parameter of this layer", where,
                layer=node.name, op=node.op_name,
                hint=did_you_mean(pattern, shapes) or
                f"its parameters: {', '.join(shapes) or 'none'}"))
        for name in matched:
            if scheme.scheme in NEEDS_MATRIX and len(shapes[name]) < 2:
                problems.append(Diagnostic(
                    "DLS102", f"{scheme.scheme} needs a weight with 2 or more dims; "
                    f"'{name}' has {len(shapes[name])}", where, layer=node.name,
                    op=node.op_name, hint="use normal, uniform, zeros or constant for it"))
    return problems


def _init_place(node: Node, pattern: str, own: bool, source: SourceMap) -> SourceSpan:
    """The layer's own `init:` key, else the op's entry in the top-level `init:`."""
    if own:
        return node.places.get(f"init.{pattern}", node.span)
    return source.key_span(("init", node.op_name, pattern))

"""The part of a model downstream of one layer, as a model of its own: a VAE's decoder.

`downstream_graph(graph, layer)` is the IR graph of what the model computes from `layer`'s
output: that output becomes an input of the same type and name (`code_input`), and the layers kept are those
that depend on it and lead to an output that depends on it. Every kept layer keeps its
qualified name (and so its parameters' names), so that the trained model's weights load into
the compiled part by name: `build_module(part)` then `load_state_dict` of the matching entries,
or, sharing them, `downstream_module(part, trained_module)`.

A layer of the part that also reads a value computed upstream of `layer` (a skip connection
from the encoder) cannot be computed from `layer`'s output alone: GenerateError DLS601.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dlspec.errors import Diagnostic, GenerateError, suggest
from dlspec.ir.graph import Graph, Node


def downstream_graph(graph: Graph, layer: str) -> Graph:
    """The graph computing `graph`'s outputs that depend on `layer` from `layer`'s output
    (an input named `code_input(layer)`: `layer`, but for dots). Raises GenerateError
    DLS601 when there is no such layer, when no output depends on it, or when what depends
    on it also reads values from upstream."""
    if layer not in graph:
        raise GenerateError(Diagnostic(
            "DLS601", f"the model has no layer '{layer}'",
            hint=suggest(layer, [n.name for n in graph.layers()])))
    start = graph.node(layer)
    if start.type is None:
        raise ValueError("downstream_graph needs a shape-checked graph")
    below = _descendants(graph, layer)
    outputs = [name for name in graph.outputs if name in below]
    if not outputs:
        raise GenerateError(Diagnostic(
            "DLS601", f"no output of the model depends on '{layer}' "
            f"(its outputs: {', '.join(graph.outputs)})", start.span, layer=layer,
            op=start.op_name, hint="name the layer whose output the decoder starts from, "
                                   "e.g. the `reparameterize` layer of a VAE"))
    needed = set().union(*(_ancestors(graph, name) | {name} for name in outputs))
    kept = [node for node in graph.layers() if node.name in below and node.name in needed]
    kept_names = {node.name for node in kept}
    code = code_input(layer)
    if code in kept_names:
        raise GenerateError(Diagnostic(
            "DLS601", f"the input for '{layer}' would be named '{code}', which a layer after "
            f"it is named", start.span, layer=layer, op=start.op_name,
            hint=f"rename the layer '{code}'"))
    part = Graph(inputs=[code], outputs=outputs)
    part.add(Node(code, None, [], start.span, start.type, start.scope))
    for node in kept:
        upstream = [name for name in node.inputs if name != layer and name not in below]
        if upstream:
            raise GenerateError(Diagnostic(
                "DLS601", f"'{node.name}' reads {', '.join(map(repr, upstream))} besides what "
                f"'{layer}' computes, so the part downstream of '{layer}' cannot run on "
                f"'{layer}' alone", node.span, layer=node.name, op=node.op_name,
                hint="start from a layer that everything after it depends on only"))
        tie = node.tie if node.tie in kept_names else None  # an upstream one: loaded by name
        part.add(replace(node, tie=tie,
                         inputs=[code if name == layer else name for name in node.inputs]))
    part.connect()
    return part


def code_input(layer: str) -> str:
    """The name of the part's input fed `layer`'s output: the layer's name, its dots (a
    layer in a block: `dec.0.fc`) made underscores, as inputs are identifiers."""
    return layer.replace(".", "_")


def downstream_module(part: Graph, trained: Any, name: str = "Decoder") -> Any:
    """The torch module of `part` (a `downstream_graph`), computing with the layers of
    `trained` (the whole model's module) themselves."""
    import torch

    from dlspec.backends.torch_module import build_module

    with torch.random.fork_rng(devices=[]):  # its fresh weights are replaced: draw nothing
        module = build_module(part, name)
    return share_layers(module, part, trained)


def share_layers(part_module: Any, part: Graph, trained: Any) -> Any:
    """`part_module` (built from `part`) with each of its layers replaced by the layer of the
    same qualified name in `trained` (the whole model's module, or a wrapper whose `model`
    is it): the part then computes with the trained weights themselves, not a copy."""
    whole = _holder(trained, part)
    for node in part.layers():
        parent, _, leaf = node.name.rpartition(".")
        owner = part_module.get_submodule(parent) if parent else part_module
        setattr(owner, leaf, whole.get_submodule(node.name))
    return part_module


def _holder(trained: Any, part: Graph) -> Any:
    """The module among `trained` and the models it wraps that has the part's layers."""
    module, names = trained, [node.name for node in part.layers()]
    while module is not None:
        if all(_has(module, name) for name in names):
            return module
        module = getattr(module, "model", None)
    raise ValueError(f"the trained module has no layers {', '.join(names)}")


def _has(module: Any, name: str) -> bool:
    try:
        module.get_submodule(name)
    except AttributeError:
        return False
    return True


def _descendants(graph: Graph, name: str) -> set[str]:
    import networkx

    return networkx.descendants(graph.nx, name)


def _ancestors(graph: Graph, name: str) -> set[str]:
    import networkx

    return networkx.ancestors(graph.nx, name)

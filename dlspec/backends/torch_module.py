"""Compile the graph IR to a torch.fx GraphModule.

Every layer becomes a submodule at its qualified name, so parameters are named after the
spec's layers (`stage.0.conv1.weight`); the forward is generated code that calls them in
topological order, takes the inputs positionally in the spec's order and returns one tensor,
or a tuple for several outputs.
"""

from __future__ import annotations

import importlib
import re

from torch import fx, nn

from dlspec.backends.initialize import initialize
from dlspec.ir.graph import Graph, Node
from dlspec.ops.base import Build

ALLOWED_TARGETS = ("torch.nn.", "dlspec.backends.torch_layers.")


def instantiate(build: Build) -> nn.Module:
    """The module a Build describes; only torch.nn and dlspec's own layers may be named."""
    if not build.target.startswith(ALLOWED_TARGETS):
        raise ValueError(f"refusing to build '{build.target}': not a torch.nn or dlspec layer")
    module_path, _, class_name = build.target.rpartition(".")
    cls = getattr(importlib.import_module(module_path), class_name)
    return cls(**build.kwargs)


def layer_build(graph: Graph, node: Node) -> Build:
    return node.op.build(*[graph.node(name).type for name in node.inputs])


def build_module(graph: Graph, name: str = "Model") -> fx.GraphModule:
    """A torch module computing the graph (parameters initialized as the spec asks, else
    torch's defaults; tied weights shared)."""
    root = nn.Module()
    fx_graph = fx.Graph()
    values: dict[str, fx.Node] = {}
    for input_name in graph.inputs:
        values[input_name] = fx_graph.placeholder(input_name)
    for node in graph.layers():
        _attach(root, node.name, instantiate(layer_build(graph, node)))
        args = tuple(values[source] for source in node.inputs)
        values[node.name] = fx_graph.call_module(node.name, args)
    outputs = [values[name] for name in graph.outputs]
    fx_graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    module = fx.GraphModule(root, fx_graph, class_name=class_name(name))
    initialize(module, graph)
    return module


def _attach(root: nn.Module, qualified: str, module: nn.Module) -> None:
    *parents, leaf = qualified.split(".")
    owner = root
    for part in parents:
        if not hasattr(owner, part):
            owner.add_module(part, nn.Module())
        owner = getattr(owner, part)
    owner.add_module(leaf, module)


def class_name(spec_name: str) -> str:
    """'mlp-digits' -> 'MlpDigits', a valid Python class name."""
    words = re.split(r"[^A-Za-z0-9]+", spec_name)
    name = "".join(w[:1].upper() + w[1:] for w in words if w)
    return name if name and not name[0].isdigit() else f"Model{name}"

"""Weight initialization and weight tying on a built module, as the graph's nodes ask.

Each layer's schemes (see dlspec/spec/init.py) are applied to its parameters whose names match
the glob; then tied layers take the weight of the layer they name, so a tied pair is one
parameter (torch counts it once, the optimizer steps it once, ONNX stores it once).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from dlspec.errors import Diagnostic, ShapeError, SpecError
from dlspec.ir.graph import Graph, Node


def _xavier(p: torch.Tensor, s: Any) -> None:
    getattr(nn.init, s.scheme + "_")(p, gain=s.gain)


def _kaiming(p: torch.Tensor, s: Any) -> None:
    getattr(nn.init, s.scheme + "_")(p, a=s.a, mode=s.mode, nonlinearity=s.nonlinearity)


def _normal(p: torch.Tensor, s: Any) -> None:
    if s.scheme == "normal":
        nn.init.normal_(p, s.mean, s.std)
    else:
        nn.init.trunc_normal_(p, s.mean, s.std, a=s.mean - 2 * s.std, b=s.mean + 2 * s.std)


def _constant(p: torch.Tensor, s: Any) -> None:
    nn.init.constant_(p, {"zeros": 0.0, "ones": 1.0}.get(s.scheme, s.value))


INITIALIZERS: dict[str, Callable[[torch.Tensor, Any], None]] = {
    "xavier_uniform": _xavier, "xavier_normal": _xavier,
    "kaiming_uniform": _kaiming, "kaiming_normal": _kaiming,
    "orthogonal": lambda p, s: nn.init.orthogonal_(p, gain=s.gain),
    "normal": _normal, "trunc_normal": _normal,
    "uniform": lambda p, s: nn.init.uniform_(p, s.low, s.high),
    "constant": _constant, "zeros": _constant, "ones": _constant,
}
NEEDS_MATRIX = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
                "orthogonal")


def initialize(module: nn.Module, graph: Graph) -> None:
    """Apply every node's init schemes, then tie weights. Raises SpecError (located)."""
    problems: list[Diagnostic] = []
    with torch.no_grad():
        for node in graph.layers():
            if node.init:
                problems += _init_layer(module.get_submodule(node.name), node)
    for node in graph.layers():
        if node.tie:
            _tie(module, graph, node)
    if problems:
        raise SpecError(problems)


def _init_layer(layer: nn.Module, node: Node) -> list[Diagnostic]:
    problems = []
    params = dict(layer.named_parameters())
    for pattern, scheme in node.init.items():
        matched = [name for name in params if fnmatch.fnmatchcase(name, pattern)]
        if not matched and pattern in node.init_strict:
            problems.append(Diagnostic(
                "DLS102", f"init '{pattern}' matches no parameter of this layer", node.span,
                layer=node.name, op=node.op_name,
                hint=f"its parameters: {', '.join(params) or 'none'}"))
        for name in matched:
            if scheme.scheme in NEEDS_MATRIX and params[name].dim() < 2:
                problems.append(Diagnostic(
                    "DLS102", f"{scheme.scheme} needs a weight with 2 or more dims; "
                    f"'{name}' has {params[name].dim()}", node.span, layer=node.name,
                    op=node.op_name, hint="use normal, uniform, zeros or constant for it"))
                continue
            INITIALIZERS[scheme.scheme](params[name], scheme)
    padding = getattr(layer, "padding_idx", None)
    if padding is not None and "weight" in params:  # the padding row stays zero, as in torch
        params["weight"][padding].zero_()
    return problems


def _tie(module: nn.Module, graph: Graph, node: Node) -> None:
    layer, target = module.get_submodule(node.name), module.get_submodule(node.tie)
    mine, theirs = getattr(layer, "weight", None), getattr(target, "weight", None)
    if not isinstance(mine, nn.Parameter) or not isinstance(theirs, nn.Parameter):
        raise SpecError(Diagnostic(
            "DLS102", f"cannot tie '{node.name}' to '{node.tie}': both need a `weight`",
            node.span, layer=node.name, op=node.op_name))
    if mine.shape != theirs.shape:
        raise ShapeError(Diagnostic(
            "DLS201", f"tied weights differ in shape: this layer's is {tuple(mine.shape)}, "
            f"'{node.tie}' has {tuple(theirs.shape)}", node.span, layer=node.name,
            op=node.op_name, hint="tie layers whose weights are the same matrix, e.g. an LM "
                                  "head (vocab x d) and the token embedding (vocab x d)"))
    layer.weight = theirs


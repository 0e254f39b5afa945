"""The graph IR: a networkx DiGraph whose nodes are inputs and layers, in a fixed order.

networkx (a fifth of `dlspec validate`'s start-up) is imported when the first graph is made,
so that a spec refused before its model is lowered is refused without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dlspec.errors import SourceSpan
from dlspec.ir.types import TensorType
from dlspec.ops.base import Op


@dataclass
class Node:
    """One graph node: a model input (op is None) or a layer."""

    name: str  # qualified and unique, e.g. "layer2.0.conv1"; parameters are named after it
    op: Op | None
    inputs: list[str]  # in argument order
    span: SourceSpan
    type: TensorType | None = None  # filled by shape inference
    scope: str = ""  # the block instance it came from ("" at top level)
    tie: Any = None  # the layer whose weight this one shares (qualified name once resolved)
    init: dict[str, Any] = field(default_factory=dict)  # param glob -> InitScheme
    init_strict: frozenset[str] = frozenset()  # globs the layer gave itself: must match
    places: dict[str, SourceSpan] = field(default_factory=dict)  # "tie", "init.<glob>": where

    @property
    def op_name(self) -> str:
        return self.op.op_name() if self.op else "input"

    @property
    def is_input(self) -> bool:
        return self.op is None


@dataclass
class Graph:
    """Inputs and layers as a DAG; node order is the spec's order (a valid topological one)."""

    nx: Any = field(default_factory=lambda: _networkx().DiGraph())  # a networkx.DiGraph
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def add(self, node: Node) -> None:
        self.nx.add_node(node.name, node=node)

    def connect(self) -> None:
        """Add an edge for every input reference (call once all nodes exist)."""
        for node in self.nodes():
            for index, source in enumerate(node.inputs):
                self.nx.add_edge(source, node.name, index=index)

    def node(self, name: str) -> Node:
        return self.nx.nodes[name]["node"]

    def nodes(self) -> list[Node]:
        return [data["node"] for _, data in self.nx.nodes(data=True)]

    def topological(self) -> list[Node]:
        """Nodes in dependency order; ties keep the spec's order."""
        order = {name: i for i, name in enumerate(self.nx.nodes)}
        names = _networkx().lexicographical_topological_sort(self.nx, key=order.__getitem__)
        return [self.node(name) for name in names]

    def layers(self) -> list[Node]:
        return [n for n in self.topological() if not n.is_input]

    def __contains__(self, name: str) -> bool:
        return name in self.nx

    def __len__(self) -> int:
        return self.nx.number_of_nodes()


def _networkx():
    import networkx

    return networkx

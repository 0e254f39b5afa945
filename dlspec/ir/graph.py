"""The graph IR: a DAG whose nodes are inputs and layers, in a fixed order, seen by graph
algorithms as a networkx DiGraph.

networkx (a fifth of `dlspec validate`'s start-up) is imported when an algorithm first needs
the DiGraph (a topological order, a cycle search), not when a graph is made: a spec refused
while its layers are lowered (an unknown key, a bad value) is refused without it.
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

    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    _nodes: dict[str, Node] = field(default_factory=dict, repr=False)  # in insertion order
    _edges: list[tuple[str, str, int]] = field(default_factory=list, repr=False)
    _nx: Any = field(default=None, repr=False)  # the DiGraph, once made

    @property
    def nx(self) -> Any:
        """The graph as a networkx DiGraph (node attribute "node", edge attribute "index"),
        made on first use and kept in step with `add` and `connect`. Read it; change the
        graph through `add` and `connect`."""
        if self._nx is None:
            digraph = _networkx().DiGraph()
            for name, node in self._nodes.items():
                digraph.add_node(name, node=node)
            for source, target, index in self._edges:
                digraph.add_edge(source, target, index=index)
            self._nx = digraph
        return self._nx

    def add(self, node: Node) -> None:
        self._nodes[node.name] = node
        if self._nx is not None:
            self._nx.add_node(node.name, node=node)

    def connect(self) -> None:
        """Add an edge for every input reference (call once all nodes exist)."""
        for node in self.nodes():
            for index, source in enumerate(node.inputs):
                self._edges.append((source, node.name, index))
                if self._nx is not None:
                    self._nx.add_edge(source, node.name, index=index)

    def node(self, name: str) -> Node:
        return self._nodes[name]

    def nodes(self) -> list[Node]:
        return list(self._nodes.values())

    def topological(self) -> list[Node]:
        """Nodes in dependency order; ties keep the spec's order."""
        order = {name: i for i, name in enumerate(self._nodes)}
        names = _networkx().lexicographical_topological_sort(self.nx, key=order.__getitem__)
        return [self.node(name) for name in names]

    def layers(self) -> list[Node]:
        return [n for n in self.topological() if not n.is_input]

    def __contains__(self, name: str) -> bool:
        return name in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)


def _networkx():
    import networkx

    return networkx

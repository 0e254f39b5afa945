"""What a graph picture shows, independent of the format: boxes (inputs, layers, or whole
block instances when collapsed) with their name, op and output shape; the edges between them;
and clusters for block instances (nested: `layer1` holds `layer1.0` and `layer1.1`)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from dlspec.ir.graph import Graph, Node


@dataclass(frozen=True)
class Box:
    id: str  # n0, n1, ... (stable: graph order)
    lines: tuple[str, ...]  # name, op, output shape
    kind: str  # input, layer, block (a collapsed instance) or output


@dataclass
class Cluster:
    name: str  # a block instance or repeat ("layer1.0", "layer1"); "" is the whole graph
    items: list[Box | Cluster] = field(default_factory=list)

    @property
    def label(self) -> str:
        """`downsample` for layer2.0.downsample; repeat instances keep their whole name."""
        head, _, tail = self.name.rpartition(".")
        return self.name if tail.isdigit() or not head else tail


@dataclass
class Drawing:
    title: str
    root: Cluster
    edges: list[tuple[str, str]]  # box ids

    def nested_lines(self, box: Callable[[Box], str], opening: Callable[[Cluster, int], str],
                     closing: str, indent: str = "  ") -> list[str]:
        """The boxes and clusters as text lines, each cluster's items indented between its
        `opening(cluster, number)` and `closing` lines (a writer supplies the syntax)."""
        lines: list[str] = []
        numbers = iter(range(1, 1 << 31))

        def visit(cluster: Cluster, depth: int) -> None:
            for item in cluster.items:
                if isinstance(item, Box):
                    lines.append(indent * depth + box(item))
                else:
                    lines.append(indent * depth + opening(item, next(numbers)))
                    visit(item, depth + 1)
                    lines.append(indent * depth + closing)

        visit(self.root, 1)
        return lines


def draw(graph: Graph, title: str, *, collapse: bool = False) -> Drawing:
    """The picture of `graph`; `collapse` draws each block instance as one box."""
    nodes = graph.topological()
    scopes = {n.scope for n in nodes if n.scope}
    key = {n.name: _instance(n.scope, scopes) if collapse and n.scope else n.name
           for n in nodes}
    ids = {k: f"n{i}" for i, k in enumerate(dict.fromkeys(key.values()))}
    members = Counter(key.values())
    last = {key[n.name]: n for n in nodes}  # a collapsed box shows its last layer's shape
    root = Cluster("")
    clusters = {"": root}
    for box_key, node in last.items():  # in order of first appearance
        output = node.name in graph.outputs
        if box_key != node.name:  # a collapsed block instance
            box = Box(ids[box_key], (box_key, f"{members[box_key]} layers", str(node.type)),
                      "output" if output else "block")
            head, _, tail = box_key.rpartition(".")
            where = head if tail.isdigit() else ""  # inside its repeat, as layer1.0 in layer1
        else:
            kind = "input" if node.is_input else "output" if output else "layer"
            where = node.scope
            box = Box(ids[box_key], _layer_lines(node, where), kind)
        _cluster(clusters, where).items.append(box)
    edges = {(ids[key[source]], ids[key[node.name]])
             for node in nodes for source in node.inputs if key[source] != key[node.name]}
    return Drawing(title, root, sorted(edges, key=lambda e: (int(e[0][1:]), int(e[1][1:]))))


def _layer_lines(node: Node, cluster: str) -> tuple[str, ...]:
    """Name (inside its cluster), op (unless the name says it: relu, relu_1) and shape."""
    name = node.name.removeprefix(f"{cluster}.") if cluster else node.name
    said = name == node.op_name or re.fullmatch(rf"{node.op_name}_\d+", name)
    return (name, str(node.type)) if said else (name, node.op_name, str(node.type))


def _instance(scope: str, scopes: set[str]) -> str:
    """The outermost block instance holding `scope`."""
    parts = scope.split(".")
    for end in range(1, len(parts) + 1):
        if ".".join(parts[:end]) in scopes:
            return ".".join(parts[:end])
    return scope


def _cluster(clusters: dict[str, Cluster], name: str) -> Cluster:
    """The cluster `name`, made (inside its dotted parents) on first use."""
    if name not in clusters:
        cluster = Cluster(name)
        _cluster(clusters, name.rpartition(".")[0]).items.append(cluster)
        clusters[name] = cluster
    return clusters[name]

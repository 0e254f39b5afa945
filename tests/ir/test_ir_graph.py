"""The graph IR: its networkx view is made on demand and stays in step with the graph."""

from dlspec.errors import SourceSpan
from dlspec.ir.graph import Graph, Node
from dlspec.ops.activations import ReLU

SPAN = SourceSpan("spec.yaml", 1, 1)


def _graph() -> Graph:
    graph = Graph()
    graph.add(Node("x", None, [], SPAN))
    graph.add(Node("b", ReLU(), ["a"], SPAN))  # before the layer it reads: order is by edges
    graph.add(Node("a", ReLU(), ["x"], SPAN))
    graph.inputs.append("x")
    return graph


def test_nodes_are_kept_in_order_without_a_networkx_graph():
    graph = _graph()
    assert graph._nx is None  # nothing so far needed networkx
    assert [n.name for n in graph.nodes()] == ["x", "b", "a"]
    assert len(graph) == 3 and "a" in graph and "nope" not in graph
    assert graph.node("b").inputs == ["a"]
    assert graph._nx is None


def test_the_networkx_view_has_every_node_and_edge_and_follows_later_changes():
    graph = _graph()
    graph.connect()
    assert [n.name for n in graph.topological()] == ["x", "a", "b"]
    assert sorted(graph.nx.edges(data="index")) == [("a", "b", 0), ("x", "a", 0)]
    graph.add(Node("c", ReLU(), ["b"], SPAN))  # after the view was made
    assert graph.nx.nodes["c"]["node"] is graph.node("c")
    assert [n.name for n in graph.layers()] == ["a", "b", "c"]
    assert graph.nx.number_of_nodes() == len(graph) == 4

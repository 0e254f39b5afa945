"""DOT text parses with pydot into the same nodes, edges and clusters."""

from pathlib import Path

import pydot

from dlspec.compiler import check_spec
from dlspec.render.dot import to_dot
from dlspec.render.drawing import draw

STAGES = """
dlspec: 1
name: stages
inputs:
  image: {shape: [3, 8, 8]}
blocks:
  unit:
    layers:
      - {op: conv2d, name: conv, out_channels: 3, kernel_size: 3, padding: 1}
      - name: skip
        layers: [{op: relu}]
      - {op: add, inputs: [skip, x]}
model:
  - {block: unit, name: stage, repeat: 2}
  - {op: global_avg_pool2d, name: pool}
"""


def all_nodes(graph) -> dict[str, str]:
    found = {n.get_name(): n.get_label() for n in graph.get_nodes()
             if n.get_name() not in ("node", "edge", "graph")}
    for sub in graph.get_subgraphs():
        found.update(all_nodes(sub))
    return found


def test_dot_parses_with_every_node_edge_and_nested_cluster(tmp_path):
    spec = tmp_path / "stages.yaml"
    spec.write_text(STAGES)
    graph = check_spec(spec).graph
    (parsed,) = pydot.graph_from_dot_data(to_dot(draw(graph, "stages")))
    nodes = all_nodes(parsed)
    assert len(nodes) == len(graph)
    assert nodes["n1"] == '"conv\\nconv2d\\n(N, 3, 8, 8)"'
    assert len(parsed.get_edges()) == graph.nx.number_of_edges()
    (stage,) = parsed.get_subgraphs()
    assert stage.get_name().startswith("cluster_") and stage.get_label() == '"stage"'
    instances = stage.get_subgraphs()
    assert [s.get_label() for s in instances] == ['"stage.0"', '"stage.1"']
    assert [s.get_label() for s in instances[0].get_subgraphs()] == ['"skip"']


def test_a_title_with_quotes_stays_one_string():
    graph = check_spec(Path(__file__).resolve().parents[2] / "specs" / "mlp-digits.yaml").graph
    (parsed,) = pydot.graph_from_dot_data(to_dot(draw(graph, 'a "quoted" \\ name')))
    assert parsed.get_name() == '"a \\"quoted\\" \\\\ name"'

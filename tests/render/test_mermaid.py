"""Mermaid text is well formed: balanced subgraphs, every edge between declared nodes."""

import re
from pathlib import Path

from dlspec.compiler import check_spec
from dlspec.render.drawing import Box, Cluster, Drawing, draw
from dlspec.render.mermaid import to_markdown, to_mermaid

SPECS = Path(__file__).resolve().parents[2] / "specs"
NODE = re.compile(r'^(n\d+)(\[/"|\(\["|\[\["|\[")(.*?)("/\]|"\]\)|"\]\]|"\])$')


def parse(text: str):
    """(node id -> label lines, edges, subgraph labels), checking the nesting."""
    lines = text.splitlines()
    assert lines[0] == "flowchart TB"
    nodes, edges, subgraphs, depth = {}, [], [], 0
    for line in lines[1:]:
        line = line.strip()
        if line.startswith("subgraph "):
            depth += 1
            subgraphs.append(re.fullmatch(r'subgraph c\d+ \["(.*)"\]', line).group(1))
        elif line == "end":
            depth -= 1
            assert depth >= 0
        elif "-->" in line:
            source, target = line.split(" --> ")
            edges.append((source, target))
        else:
            match = NODE.match(line)
            assert match, line
            nodes[match.group(1)] = match.group(3).split("<br/>")
    assert depth == 0
    assert all(s in nodes and t in nodes for s, t in edges)
    return nodes, edges, subgraphs


def test_the_flowchart_has_every_layer_edge_and_block():
    graph = check_spec(SPECS / "cnn-digits.yaml").graph
    nodes, edges, subgraphs = parse(to_mermaid(draw(graph, "cnn-digits")))
    assert len(nodes) == len(graph) and len(edges) == graph.nx.number_of_edges()
    assert subgraphs == ["res1"]
    assert ["conv1", "conv2d", "(N, 32, 8, 8)"] in nodes.values()


def test_quotes_and_brackets_in_labels_are_escaped():
    drawing = Drawing("t", Cluster("", [Box("n0", ('a "b" <c>',), "input")]), [])
    assert 'n0[/"a #quot;b#quot; #lt;c#gt;"/]' in to_mermaid(drawing)


def test_markdown_wraps_the_chart_for_github():
    graph = check_spec(SPECS / "mlp-digits.yaml").graph
    text = to_markdown(draw(graph, "mlp-digits"))
    assert text.startswith("# mlp-digits\n\n```mermaid\nflowchart TB\n")
    assert text.endswith("```\n")

"""The expanded, shape-annotated graph as JSON: the fully resolved form of a spec.

Blocks are expanded, expressions evaluated and defaults filled, so two versions of a spec
can be compared with a plain diff. Keys are sorted and the layout is stable.
"""

from __future__ import annotations

import json
from typing import Any

from dlspec.ir.graph import Graph

IR_VERSION = 1


def graph_to_json(graph: Graph, name: str, params: dict[str, Any]) -> dict[str, Any]:
    layers = []
    for node in graph.layers():
        layers.append({
            "name": node.name,
            "op": node.op_name,
            "attributes": node.op.attributes(),
            "inputs": list(node.inputs),
            "output": node.type.to_json() if node.type else None,
            "source": f"{node.span.line}:{node.span.col}",
        })
    return {
        "dlspec_ir": IR_VERSION,
        "name": name,
        "params": params,
        "inputs": [{"name": n, **graph.node(n).type.to_json()} for n in graph.inputs],
        "layers": layers,
        "outputs": list(graph.outputs),
    }


def graph_to_text(graph: Graph, name: str, params: dict[str, Any]) -> str:
    return json.dumps(graph_to_json(graph, name, params), indent=2, sort_keys=True) + "\n"

"""A spec's fully resolved form as JSON: the expanded, shape-annotated graph and the
training sections.

Blocks are expanded, expressions evaluated and defaults filled, so two versions of a spec
can be compared with a plain diff. Keys are sorted and the layout is stable.
"""

from __future__ import annotations

import json
from typing import Any

from dlspec.ir.graph import Graph

IR_VERSION = 1


RECIPE_SECTIONS = ("loss", "optimizer", "schedule", "regularization", "data", "train", "export")


def spec_to_json(checked: Any) -> dict[str, Any]:
    """The whole resolved spec: the expanded graph, then every other section with its
    defaults filled in."""
    ir = graph_to_json(checked.graph, checked.spec.name, checked.loaded.params)
    ir["recipe"] = checked.spec.model_dump(mode="json", include=set(RECIPE_SECTIONS))
    return ir


def spec_to_text(checked: Any) -> str:
    return json.dumps(spec_to_json(checked), indent=2, sort_keys=True) + "\n"


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

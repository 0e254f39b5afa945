"""Human-readable tables of a compiled model."""

from __future__ import annotations

from typing import Any

from dlspec.ir.graph import Graph


def layer_rows(graph: Graph, module: Any) -> list[tuple[str, str, str, int]]:
    """(name, op, output shape, parameters) per layer, in execution order."""
    rows = []
    for node in graph.layers():
        layer = module.get_submodule(node.name)
        count = sum(p.numel() for p in layer.parameters())
        rows.append((node.name, node.op_name, str(node.type), count))
    return rows


def layer_table(graph: Graph, module: Any, title: str = ""):
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_footer=True)
    rows = layer_rows(graph, module)
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    table.add_column("layer", footer="total")
    table.add_column("op")
    table.add_column("output shape", footer=f"{len(rows)} layers")
    table.add_column("parameters", justify="right", footer=f"{total:,}")
    for input_name in graph.inputs:
        table.add_row(input_name, "input", str(graph.node(input_name).type), "")
    for name, op, shape, count in rows:
        table.add_row(name, op, shape, f"{count:,}" if count else "")
    table.caption = f"trainable parameters: {trainable:,}"
    return table

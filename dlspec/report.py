"""Human-readable tables of a model: its compiled layers, its summary, its memory estimate."""

from __future__ import annotations

from typing import Any

from dlspec.ir.graph import Graph


def layer_rows(graph: Graph, module: Any) -> list[tuple[str, str, str, int]]:
    """(name, op, output shape, parameters) per layer, in execution order. A tied weight
    (`tie:`) is counted once, in the row of the layer that owns it, so the rows add up to the
    module's total."""
    rows = []
    for node in graph.layers():
        layer = module.get_submodule(node.name)
        shared = {id(module.get_submodule(node.tie).weight)} if node.tie else set()
        count = sum(p.numel() for p in layer.parameters() if id(p) not in shared)
        rows.append((node.name, node.op_name, str(node.type), count))
    return rows


def layer_table(graph: Graph, module: Any, title: str = ""):
    """The compiled module's layers with their parameters, counted by torch."""
    rows = layer_rows(graph, module)
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    table = _table(title, [("layer", "total"), ("op", ""), ("output shape", f"{len(rows)} layers"),
                           ("parameters", f"{total:,}")])
    _input_rows(table, [(n, str(graph.node(n).type)) for n in graph.inputs])
    tied = {node.name: node.tie for node in graph.layers() if node.tie}
    for name, op, shape, count in rows:
        cell = f"{count:,}" if count else ""
        if name in tied:
            cell = f"{cell} (shares {tied[name]}.weight)".strip()
        table.add_row(name, op, shape, cell)
    table.caption = f"trainable parameters: {trainable:,}"
    return table


def summary_table(summary):
    """Every layer with its output shape, parameters and MACs (batch 1), and the totals."""
    dims = ", ".join(f"{k}={v}" for k, v in summary.dims.items())
    macs = "" if summary.macs is None else f"{summary.macs:,} ({_si(summary.macs)})"
    table = _table(summary.name + (f" ({dims})" if dims else ""), [
        ("layer", "total"), ("op", f"{len(summary.layers)} layers"), ("output shape", ""),
        ("parameters", f"{summary.params:,}"), ("MACs", macs)])
    _input_rows(table, summary.inputs)
    for row in summary.layers:
        table.add_row(row.name, row.op, row.shape, f"{row.params:,}" if row.params else "",
                      f"{row.macs:,}" if row.macs else "")
    if summary.unbound:
        names = ", ".join(summary.unbound)
        table.caption = (f"MACs and memory need a size for {names}: pass --dim NAME=SIZE "
                         "(--seq T for seq), or declare its `max` in the spec")
    else:
        table.caption = "MACs: multiply-accumulates of one sample (batch 1)"
    return table


def _table(title: str, columns: list[tuple[str, str]]):
    """A rich table with a footer row; columns are (header, footer), numbers right-aligned."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_footer=True)
    for header, footer in columns:
        table.add_column(header, footer=footer,
                         justify="right" if header in ("parameters", "MACs") else "left")
    return table


def _input_rows(table, inputs: list[tuple[str, str]]) -> None:
    blank = [""] * (len(table.columns) - 3)
    for name, shape in inputs:
        table.add_row(name, "input", shape, *blank)


def memory_table(memory):
    """The memory estimate: training (by part) and inference, in bytes."""
    from rich.table import Table

    table = Table(title=f"memory estimate at batch {memory.batch} (float32 parameters)",
                  title_justify="left")
    for header in ("", "training", "inference"):
        table.add_column(header, justify="right" if header else "left")
    table.add_row("weights", format_bytes(memory.weights), format_bytes(memory.weights))
    table.add_row("gradients", format_bytes(memory.gradients), "")
    table.add_row(f"optimizer state ({memory.optimizer})", format_bytes(memory.optimizer_state), "")
    table.add_row("activations", format_bytes(memory.activations),
                  format_bytes(memory.inference_activations))
    table.add_row("total", format_bytes(memory.training), format_bytes(memory.inference))
    table.caption = ("training keeps every layer's output for backward; inference frees "
                     "each tensor after its last use (an estimate: see docs/spec.md)")
    return table


def _si(count: int) -> str:
    for unit, size in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= size:
            return f"{count / size:.3f} {unit}"
    return str(count)


def format_bytes(count: int) -> str:
    """1.5 GiB, 640.0 KiB, 12 B; 3.64e+07 TiB past a million TiB."""
    if count >= 2**40 * 10**6:
        return f"{count / 2**40:.2e} TiB"
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:,.1f} {unit}"
    return f"{count} B"

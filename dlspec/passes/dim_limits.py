"""Symbolic dims against the layers that take them only up to a size: a learned position
table of `max_len` rows reads at most `max_len` positions, so the `seq` it reads must be
declared no longer (`dims: {seq: {max: ...}}` on the input), and an embedding of the
positions an `arange` counts (or of relative-position buckets) needs a row for the last
one. The shape rules see `seq` as a name; this pass knows the bounds the inputs declare.
Torch-free."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlspec.analysis.dims import UnboundDim, dim_value
from dlspec.errors import Diagnostic
from dlspec.ir.graph import Graph


def dim_limit_diagnostics(graph: Graph, inputs: Mapping[str, Any]) -> list[Diagnostic]:
    """An error at each layer whose limited dim may exceed its limit (`inputs`: the model's
    input declarations, whose `dims` bound the named dims)."""
    maxes = {dim: bounds.max for config in inputs.values()
             for dim, bounds in config.dims.items() if bounds.max}
    problems = []
    for node in graph.layers():
        types = [graph.node(name).type for name in node.inputs]
        if node.type is None or any(t is None for t in types):
            continue
        for dim, limit, attribute in node.op.dim_limits(*types):
            if isinstance(dim, int):
                continue  # a fixed size is the shape rule's to check
            try:
                most = dim_value(dim, maxes)
            except UnboundDim as unbound:
                problems.append(Diagnostic(
                    "DLS201", f"dim '{dim}' has no upper bound, but {attribute} is {limit}",
                    node.span, node.name, node.op_name,
                    hint=f"bound it where the input declares it: "
                         f"`dims: {{{unbound.name}: {{max: {limit}}}}}`"))
                continue
            if most > limit:
                problems.append(Diagnostic(
                    "DLS201", f"dim '{dim}' may be up to {most} (the inputs' declared max), "
                    f"but {attribute} is {limit}", node.span, node.name, node.op_name,
                    hint=f"raise {attribute} to {most}, or lower the declared max"))
        problems += _position_rows(graph, node, maxes)
    return problems


def _position_rows(graph: Graph, node: Any, maxes: Mapping[str, int]) -> list[Diagnostic]:
    """An embedding of `arange`'s positions start .. start + seq - 1 needs a row for the
    last: with a symbolic seq, at its declared max (an unbounded seq is refused here too);
    one of relative_position_buckets' ids a row per bucket."""
    if node.op_name != "embedding" or len(node.inputs) != 1:
        return []
    source = graph.node(node.inputs[0])
    if source.op_name == "relative_position_buckets" and \
            source.op.num_buckets > node.op.num_embeddings:
        return [Diagnostic(
            "DLS201", f"'{source.name}' (relative_position_buckets) gives buckets 0 to "
            f"{source.op.num_buckets - 1}, but num_embeddings is {node.op.num_embeddings}",
            node.span, node.name, node.op_name,
            hint=f"raise num_embeddings to num_buckets, {source.op.num_buckets}")]
    if source.op_name != "arange" or source.type is None:
        return []
    dim, start, rows = source.type.shape[1], source.op.start, node.op.num_embeddings
    try:
        most = dim if isinstance(dim, int) else dim_value(dim, maxes)
    except UnboundDim as unbound:
        return [Diagnostic(
            "DLS201", f"the positions of '{source.name}' (arange) count dim '{dim}', which has "
            f"no upper bound, but num_embeddings is {rows}", node.span, node.name,
            node.op_name, hint=f"bound it where the input declares it: "
                               f"`dims: {{{unbound.name}: {{max: {rows - start}}}}}`")]
    if start >= 0 and start + most <= rows:
        return []
    length, shorter = (f"a sequence of {most}", "shorten the sequence") if isinstance(dim, int) \
        else (f"dim '{dim}' up to {most}", "lower the declared max")
    return [Diagnostic(
        "DLS201", f"'{source.name}' (arange) gives positions {start} to {start + most - 1} "
        f"({length}), but num_embeddings is {rows}: ids are 0 to {rows - 1}",
        node.span, node.name, node.op_name,
        hint=f"raise num_embeddings to {start + most}, or {shorter}"
        if start >= 0 else "start the positions at 0 or more")]

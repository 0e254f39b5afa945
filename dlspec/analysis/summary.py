"""What a model costs, from its checked graph alone: each layer's parameters and
multiply-accumulates, the totals, and (memory.py) the bytes it needs. Nothing is allocated,
so a GPT-3-sized spec is summarized in seconds.

Parameters come from each op's `param_count`; a layer with `tie: <layer>` shares that layer's
weight, which is counted once, where it is declared. MACs come from each op's `macs` at
batch 1 with the named dims bound (`--seq`, `--dim H=224`, or the bound `max` a spec
declares); with a dim left unbound, the MACs and the memory estimate are not computed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from dlspec.analysis.dims import UnboundDim, bind, dim_names
from dlspec.analysis.memory import MemoryEstimate, estimate_memory
from dlspec.compiler import CheckedSpec
from dlspec.errors import Diagnostic, DlspecError, RuleError, SourceSpan, suggest
from dlspec.ir.graph import Graph, Node
from dlspec.ir.types import BATCH, TensorType
from dlspec.ops.base import Op


@dataclass(frozen=True)
class LayerRow:
    name: str
    op: str
    shape: str  # the symbolic output shape, e.g. (N, seq, 768)
    params: int  # learnable parameters it owns (a tied weight is its owner's)
    macs: int | None  # multiply-accumulates at batch 1; None with a dim unbound


@dataclass(frozen=True)
class Summary:
    name: str
    inputs: list[tuple[str, str]]  # (name, symbolic shape)
    layers: list[LayerRow]
    params: int
    macs: int | None  # at batch 1
    batch: int  # of the memory estimate
    dims: dict[str, int]  # the named dims, bound
    unbound: list[str]  # named dims without a size
    memory: MemoryEstimate | None

    def to_json(self) -> dict:
        return {
            "name": self.name, "batch": self.batch, "dims": self.dims,
            "unbound_dims": self.unbound,
            "inputs": [{"name": n, "shape": s} for n, s in self.inputs],
            "layers": [vars(row) for row in self.layers],
            "total": {"params": self.params, "macs": self.macs, "layers": len(self.layers)},
            "memory": self.memory.to_json() if self.memory else None,
        }


def summarize(checked: CheckedSpec, *, batch: int | None = None,
              dims: Mapping[str, int] | None = None) -> Summary:
    """The summary of a checked spec. `batch` (default: data.batch_size, else 1) is the
    batch of the memory estimate; `dims` sizes named dims (default: their declared max)."""
    graph = checked.graph
    sizes, unbound = dim_sizes(checked, dims or {})
    if batch is None:
        batch = checked.spec.data.batch_size if checked.spec.data else 1
    rows = [_row(graph, node, {BATCH: 1, **sizes}) for node in graph.layers()]
    macs = None if unbound else sum(row.macs for row in rows)
    memory = None if unbound else estimate_memory(
        graph, {BATCH: batch, **sizes}, params=sum(r.params for r in rows),
        optimizer=checked.spec.optimizer)
    inputs = [(name, str(graph.node(name).type)) for name in graph.inputs]
    name = checked.spec.name if len(checked.graphs) == 1 else checked.model
    return Summary(name, inputs, rows, sum(r.params for r in rows), macs,
                   batch, sizes, unbound, memory)


def dim_sizes(checked: CheckedSpec, given: Mapping[str, int]) -> tuple[dict[str, int],
                                                                      list[str]]:
    """Sizes of the named dims of the inputs (given, else declared max) and those unbound."""
    declared = {dim: bounds.max for config in checked.inputs.values()
                for dim, bounds in config.dims.items() if bounds.max}
    graph = checked.graph
    names = sorted(set().union(*(dim_names(graph.node(n).type) for n in graph.inputs))
                   - {BATCH})
    problems = [Diagnostic("DLS102", f"no input has a dim named '{name}'", _flag(name, size),
                           hint=suggest(name, names) if names else "the inputs have no "
                           "named dims: their shapes are fixed")
                for name, size in given.items() if name not in names]
    problems += [Diagnostic("DLS102", f"dim '{name}' must be at least 1, got {size}",
                            _flag(name, size))
                 for name, size in given.items() if name in names and size < 1]
    if problems:
        raise DlspecError(problems)
    sizes = {name: given.get(name, declared.get(name)) for name in names}
    return ({k: v for k, v in sizes.items() if v is not None},
            [k for k, v in sizes.items() if v is None])


def _flag(name: str, size: int) -> SourceSpan:
    return SourceSpan(f"--dim {name}={size}", 1, 1)


def _row(graph: Graph, node: Node, sizes: Mapping[str, int]) -> LayerRow:
    symbolic = [graph.node(name).type for name in node.inputs]
    try:
        concrete = [bind(t, sizes) for t in symbolic]
    except UnboundDim:
        concrete = None
    if concrete is not None:
        _check_fits(node, concrete, sizes)
    params = owned_params(node, concrete or symbolic)
    macs = node.op.macs(*concrete) if concrete is not None else None
    return LayerRow(node.name, node.op_name, str(node.type), params, macs)


def owned_params(node: Node, inputs: list[TensorType]) -> int:
    """The learnable parameters a layer owns: its op's, less a weight it ties to another's."""
    params = node.op.param_count(*inputs)
    if getattr(node, "tie", None):
        params -= tied_weight(node.op, inputs)
    return params


def _check_fits(node: Node, concrete: list[TensorType], sizes: Mapping[str, int]) -> None:
    """The layer's shape rule holds at the bound sizes (a symbolic dim can be too small for
    it: five 2x2 poolings of an H of 6); else a located DlspecError that names the sizes."""
    try:
        node.op.infer(*concrete)
    except RuleError as err:
        bound = ", ".join(f"{k}={v}" for k, v in sizes.items() if k != BATCH)
        raise DlspecError(Diagnostic(
            err.code, f"at {bound}: {err.message}", node.span, node.name, node.op_name,
            hint=err.hint or "give the named dims larger sizes (--dim NAME=SIZE)")) from None


def tied_weight(op: Op, inputs: list[TensorType]) -> int:
    """Elements of a layer's `weight`, the tensor `tie` shares (from the op's declared
    parameter shapes)."""
    return math.prod(op.param_shapes(*inputs)["weight"])

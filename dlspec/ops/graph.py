"""Graph layers (GNN) over node features (N, nodes, F) and the graph of each sample, given as
a second input in one of two forms (the rule tells them apart by dtype):

- a dense float adjacency (N, nodes, nodes): entry [i, j] != 0 is an edge from node j to node
  i (node i aggregates node j); for `gcn` the entry is the edge's weight;
- an int64 edge index (N, 2, E): row 0 the source nodes, row 1 the target nodes (PyTorch
  Geometric's order), made dense inside the layer, so an edge listed twice counts once; pad
  samples with fewer edges by repeating one of their edges.

Self loops are added where missing (`add_self_loops`). The number of nodes may be symbolic.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.base import (
    Build,
    InputRole,
    Op,
    PositiveInt,
    expect_float,
    known,
    numel,
)

LAYERS = "dlspec.backends.torch_layers.graph."


class _GraphLayer(Op):
    """Checks the inputs of a graph layer; a subclass says its output `width()` per node."""

    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = 2
    out_features: PositiveInt = Field(description="Features per node of the output (of each "
                                      "head, for gat).")
    bias: bool = Field(True, description="Learn an additive bias on the output features.")
    add_self_loops: bool = Field(True, description=(
        "Give every node an edge to itself where the graph has none, so it keeps its own "
        "features."))

    def infer(self, x: TensorType, graph: TensorType) -> TensorType:
        if x.rank != 3:
            raise RuleError(f"expects node features (N, nodes, features), got {x}",
                            hint="features are the first input, the graph the second")
        expect_float(x)
        known(x.shape[2], "the feature dim")
        nodes = x.shape[1]
        if graph.dtype == "int64":
            if graph.rank != 3 or graph.shape[1] != 2:
                raise RuleError(f"expects an edge index (N, 2, edges), got {graph}")
        elif graph.dtype != x.dtype:
            raise RuleError(f"expects a {x.dtype} adjacency (like the features) or an int64 "
                            f"edge index, got {graph.dtype} {graph}", code="DLS202")
        elif graph.rank != 3 or graph.shape[1:] != (nodes, nodes):
            raise RuleError(f"expects an adjacency (N, {nodes}, {nodes}) for {nodes} nodes, "
                            f"got {graph}", hint="or an int64 edge index (N, 2, edges)")
        return x.with_shape(x.shape[0], nodes, self.width())

    def input_roles(self, x: TensorType, graph: TensorType) -> tuple[InputRole | None, ...]:
        if graph.dtype == "int64":
            return None, InputRole("edge_index", x.shape[1])
        return None, InputRole("adjacency")

    def _kwargs(self, x: TensorType, graph: TensorType) -> dict:
        return {"in_features": x.shape[2], "edge_index": graph.dtype == "int64",
                **self.attributes()}


class GCN(_GraphLayer):
    """Graph convolution (Kipf & Welling), D^-1/2 (A + I) D^-1/2 X W + b: (N, nodes, out)."""

    op: Literal["gcn"] = "gcn"

    def width(self) -> int:
        return self.out_features

    def build(self, x: TensorType, graph: TensorType) -> Build:
        return Build(LAYERS + "GCN", self._kwargs(x, graph))

    def param_shapes(self, x: TensorType, graph: TensorType) -> dict[str, tuple[int, ...]]:
        shapes = {"lin.weight": (self.out_features, x.shape[2])}
        return shapes | ({"bias": (self.out_features,)} if self.bias else {})

    def macs(self, x: TensorType, graph: TensorType) -> int:
        nodes = x.shape[1]
        return numel(x.shape[:2]) * (x.shape[2] + nodes) * self.out_features


class GAT(_GraphLayer):
    """Graph attention (Velickovic et al.) over each node's neighbours: (N, nodes, heads*out).

    Each head's output is the attention-weighted sum of the neighbours' projected features;
    heads are concatenated or averaged."""

    op: Literal["gat"] = "gat"
    heads: PositiveInt = Field(1, description="Independent attention heads.")
    concat: bool = Field(True, description=(
        "Concatenate the heads (heads * out_features per node); false averages them (the "
        "paper's output layer)."))
    negative_slope: float = Field(0.2, ge=0, description="Leaky ReLU slope of the attention "
                                  "scores.")
    dropout: float = Field(0.0, ge=0, lt=1, description=(
        "Dropout on the attention coefficients while training (the paper uses 0.6)."))

    def width(self) -> int:
        return self.heads * self.out_features if self.concat else self.out_features

    def build(self, x: TensorType, graph: TensorType) -> Build:
        return Build(LAYERS + "GAT", self._kwargs(x, graph))

    def param_shapes(self, x: TensorType, graph: TensorType) -> dict[str, tuple[int, ...]]:
        heads, out = self.heads, self.out_features
        shapes = {"lin.weight": (heads * out, x.shape[2]), "att_src": (1, heads, out),
                  "att_dst": (1, heads, out)}
        return shapes | ({"bias": (self.width(),)} if self.bias else {})

    def macs(self, x: TensorType, graph: TensorType) -> int:
        nodes = x.shape[1]
        return numel(x.shape[:2]) * (x.shape[2] + nodes) * self.heads * self.out_features

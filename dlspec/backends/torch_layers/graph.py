"""Graph layers on dense per-sample adjacency matrices, in plain torch (no torch_geometric):
GCN (Kipf & Welling 2017) and GAT (Velickovic et al. 2018). Parameter names and shapes follow
PyTorch Geometric's GCNConv and GATConv (`lin.weight`, `att_src`, `att_dst`, `bias`).

Node features are (N, nodes, F). The graph is a float adjacency (N, nodes, nodes) whose entry
[i, j] != 0 is an edge j -> i (its weight, for GCN), or, with `edge_index=True`, an int64
(N, 2, E) list of [source; target] edges that is scattered into such a matrix first. Every op
keeps static shapes (the node count may vary between calls), so the layers export to ONNX.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def dense_adjacency(edge_index: torch.Tensor, nodes: int, dtype: torch.dtype) -> torch.Tensor:
    """(N, 2, E) [source; target] edges -> (N, nodes, nodes) with 1 at [target, source]."""
    batch = edge_index.shape[0]
    flat = edge_index[:, 1] * nodes + edge_index[:, 0]
    adjacency = torch.zeros(batch, nodes * nodes, dtype=dtype, device=edge_index.device)
    adjacency = adjacency.scatter(1, flat, torch.ones(flat.shape, dtype=dtype,
                                                      device=edge_index.device))
    return adjacency.reshape(batch, nodes, nodes)


def self_loops(nodes: int, device: torch.device) -> torch.Tensor:
    """(nodes, nodes) boolean identity."""
    index = torch.arange(nodes, device=device)
    return index.unsqueeze(1) == index.unsqueeze(0)


def glorot_(tensor: torch.Tensor) -> None:
    """Glorot uniform over the last two dims (as PyTorch Geometric initializes)."""
    bound = math.sqrt(6.0 / (tensor.shape[-2] + tensor.shape[-1]))
    nn.init.uniform_(tensor, -bound, bound)


class _GraphLayer(nn.Module):
    def __init__(self, in_features: int, width: int, projected: int, bias: bool,
                 add_self_loops: bool, edge_index: bool):
        super().__init__()
        self.lin = nn.Linear(in_features, projected, bias=False)
        glorot_(self.lin.weight)
        self.bias = nn.Parameter(torch.zeros(width)) if bias else None
        self.add_self_loops, self.edge_index = add_self_loops, edge_index

    def adjacency(self, x: torch.Tensor, graph: torch.Tensor) -> torch.Tensor:
        if self.edge_index:
            return dense_adjacency(graph, x.shape[1], x.dtype)
        return graph

    def finish(self, out: torch.Tensor) -> torch.Tensor:
        return out if self.bias is None else out + self.bias


class GCN(_GraphLayer):
    """D^-1/2 A' D^-1/2 X W + b, where A' is the adjacency with a self loop of weight 1 added
    to each node that has none (A + I for a graph without self loops) and D its row sums;
    a node whose row sum is not positive gets no messages."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 add_self_loops: bool = True, edge_index: bool = False):
        super().__init__(in_features, out_features, out_features, bias, add_self_loops,
                         edge_index)

    def forward(self, x: torch.Tensor, graph: torch.Tensor) -> torch.Tensor:
        adjacency = self.adjacency(x, graph)
        if self.add_self_loops:
            missing = self_loops(x.shape[1], x.device) & (adjacency == 0)
            adjacency = torch.where(missing, torch.ones_like(adjacency), adjacency)
        degree = adjacency.sum(-1)
        positive = degree > 0
        scale = torch.where(positive, degree, torch.ones_like(degree)).rsqrt() * positive
        normalized = scale.unsqueeze(-1) * adjacency * scale.unsqueeze(-2)
        return self.finish(torch.matmul(normalized, self.lin(x)))


class GAT(_GraphLayer):
    """alpha_ij = softmax over the neighbours j of node i (itself included) of
    LeakyReLU(a_dst . W x_i + a_src . W x_j); out_i = sum_j alpha_ij W x_j per head, heads
    concatenated or averaged, plus the bias. A node without neighbours gets zeros."""

    def __init__(self, in_features: int, out_features: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, bias: bool = True,
                 add_self_loops: bool = True, edge_index: bool = False):
        width = heads * out_features if concat else out_features
        super().__init__(in_features, width, heads * out_features, bias, add_self_loops,
                         edge_index)
        self.heads, self.out_features, self.concat = heads, out_features, concat
        self.negative_slope = negative_slope
        self.att_src = nn.Parameter(torch.empty(1, heads, out_features))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_features))
        glorot_(self.att_src)
        glorot_(self.att_dst)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, graph: torch.Tensor) -> torch.Tensor:
        edges = self.adjacency(x, graph) != 0
        if self.add_self_loops:
            edges = edges | self_loops(x.shape[1], x.device)
        edges = edges.unsqueeze(1)  # (N, 1, i, j), shared by the heads
        h = self.lin(x).unflatten(-1, (self.heads, self.out_features))  # (N, nodes, H, C)
        source = (h * self.att_src).sum(-1).transpose(1, 2)  # (N, H, nodes)
        target = (h * self.att_dst).sum(-1).transpose(1, 2)
        scores = nn.functional.leaky_relu(target.unsqueeze(-1) + source.unsqueeze(-2),
                                          self.negative_slope)  # (N, H, i, j)
        scores = scores.masked_fill(~edges, torch.finfo(scores.dtype).min)
        alpha = self.dropout(torch.softmax(scores, dim=-1) * edges)
        out = torch.matmul(alpha, h.transpose(1, 2)).transpose(1, 2)  # (N, nodes, H, C)
        out = out.flatten(2) if self.concat else out.mean(2)
        return self.finish(out)

    def extra_repr(self) -> str:
        return (f"heads={self.heads}, out_features={self.out_features}, concat={self.concat}, "
                f"negative_slope={self.negative_slope}")

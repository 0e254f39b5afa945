"""The generated graph datasets: what each one is, its parameters and its static facts.

`sbm` draws every sample as one graph of a stochastic block model (graph_generate.py, numpy,
from `data.seed`; never downloaded): node features x (nodes, node_features) that hint only
weakly at each node's community, a dense 0/1 adjacency (nodes, nodes), and the community of
every node as its target (the tagging task: one class per node). The edges join nodes of the
same community far more often than others, so a model that reads them can average a node with
its neighbours and beat one that reads the features alone.

This module is the static side, without numpy: the facts `dlspec validate` checks against.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from dlspec.data.builtin import DatasetInfo, FieldInfo

SBM = "sbm"
# The parameters sbm takes under `data:`, with their defaults (`samples` and `noise` are
# shared with the synthetic sequence datasets).
SBM_DEFAULTS: dict[str, int | float] = {
    "samples": 600, "nodes": 32, "communities": 4, "node_features": 8, "p_in": 0.5,
    "p_out": 0.02, "noise": 1.2,
}
SBM_SUMMARY = ("graphs of a stochastic block model: node features (nodes, F) and a 0/1 "
               "adjacency (nodes, nodes) -> each node's community (nodes,)")
# The parameters only the graph datasets take (fields of `GraphParams`).
GRAPH_PARAMS = ("nodes", "communities", "node_features", "p_in", "p_out")
# The most values the generated arrays may hold (a dense adjacency grows with nodes^2): 1 GiB
# of float32.
MAX_VALUES = 2**28


class GraphParams(BaseModel):
    """The `data:` fields of the generated graph datasets (`DataConfig` takes them)."""

    nodes: int | None = Field(
        default=None, ge=2, le=4096, strict=True,
        description="sbm: nodes per graph; every graph has the same number (default 32).")
    communities: int | None = Field(
        default=None, ge=2, strict=True,
        description="sbm: the communities the nodes are split among, evenly; a node's "
        "community is its class (default 4).")
    node_features: int | None = Field(
        default=None, ge=1, strict=True,
        description="sbm: features per node, F: the node's community's mean direction plus "
        "gaussian noise of std `noise` (default 8).")
    p_in: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="sbm: the probability of an edge between two nodes of the same "
        "community (default 0.5).")
    p_out: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="sbm: the probability of an edge between two nodes of different "
        "communities (default 0.02).")


def check_sbm_params(params: dict[str, int | float]) -> None:
    """Raise ValueError for sbm parameters (defaults filled in) that cannot make its graphs."""
    nodes, communities = params["nodes"], params["communities"]
    if communities > nodes:
        raise ValueError(f"sbm needs at least one node per community: {communities} "
                         f"communities, {nodes} nodes (set nodes >= communities)")
    values = int(params["samples"]) * nodes * (nodes + int(params["node_features"]))
    if values > MAX_VALUES:
        raise ValueError(f"sbm would generate {values:,} values ({values * 4 / 2**30:.1f} GiB "
                         f"of float32: {params['samples']} graphs of {nodes} nodes, each with "
                         f"a {nodes}x{nodes} adjacency), more than {MAX_VALUES:,}; use fewer "
                         "samples or nodes")
    if params["p_in"] <= params["p_out"]:
        raise ValueError(f"sbm needs p_in > p_out, so that the edges tell which nodes share a "
                         f"community: got p_in {params['p_in']}, p_out {params['p_out']}")


def describe_sbm(params: dict[str, int | float]) -> DatasetInfo:
    """The static facts of sbm with `params` (defaults filled in): its fields `x` (nodes,
    node_features) and `adjacency` (nodes, nodes), both float32."""
    nodes, features = int(params["nodes"]), int(params["node_features"])
    fields = {"x": FieldInfo((nodes, features)), "adjacency": FieldInfo((nodes, nodes))}
    return DatasetInfo(
        name=SBM, task="tagging", n_samples=int(params["samples"]), n_features=features,
        feature_names=tuple(f"f{i}" for i in range(features)), sample_shape=(nodes, features),
        class_names=tuple(f"community_{c}" for c in range(int(params["communities"]))),
        fields=fields)

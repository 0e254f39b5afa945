"""Generating the graph datasets (see graphs.py) from a seed, with numpy.

`sbm`: every sample is one graph drawn from a stochastic block model. Its nodes are split
evenly among the communities (in a random order); two nodes are joined with probability
`p_in` when they share a community and `p_out` when they do not. A node's features are its
community's mean (a unit vector per community, drawn once per dataset) plus gaussian noise
of std `noise`, so the features alone hint at the community and the edges tell which nodes
share one. The same seed always gives the same data.
"""

from __future__ import annotations

import numpy as np

from dlspec.data.builtin import RawData
from dlspec.data.graphs import describe_sbm


def community_means(rng: np.random.Generator, communities: int, features: int) -> np.ndarray:
    """One unit-length feature-mean direction per community (communities, features), at right
    angles to each other where there are at least as many features as communities."""
    if features >= communities:
        square = rng.standard_normal((features, features))
        return np.linalg.qr(square)[0][:communities]  # rows of an orthogonal matrix
    means = rng.standard_normal((communities, features))
    return means / np.linalg.norm(means, axis=1, keepdims=True)


def sbm(rng: np.random.Generator, samples: int, nodes: int, communities: int, p_in: float,
        p_out: float, noise: float, features: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Node features x float32 (samples, nodes, features), a symmetric 0/1 adjacency float32
    (samples, nodes, nodes) without self loops, and each node's community int64
    (samples, nodes)."""
    means = community_means(rng, communities, features)
    labels = rng.permuted(np.broadcast_to(np.arange(nodes) % communities, (samples, nodes)),
                          axis=1).astype(np.int64)
    same = labels[:, :, None] == labels[:, None, :]
    draws = rng.random((samples, nodes, nodes))
    upper = np.triu(draws < np.where(same, p_in, p_out), k=1)
    adjacency = (upper | upper.transpose(0, 2, 1)).astype(np.float32)
    x = means[labels] + noise * rng.standard_normal((samples, nodes, features))
    return {"x": x.astype(np.float32), "adjacency": adjacency}, labels


def generate_sbm(params: dict, seed: int) -> RawData:
    """The sbm dataset with `params` (see graphs.SBM_DEFAULTS): its fields x (the node
    features, also the raw x) and adjacency, y each node's community."""
    rng = np.random.default_rng([seed, 1])  # a stream of its own, not the split's
    fields, y = sbm(rng, int(params["samples"]), int(params["nodes"]),
                    int(params["communities"]), float(params["p_in"]), float(params["p_out"]),
                    float(params["noise"]), int(params["node_features"]))
    info = describe_sbm(params)
    return RawData(fields["x"], y, list(info.feature_names), list(info.class_names), fields)

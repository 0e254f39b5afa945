"""The generated graph dataset sbm: shapes, the seed, and that the edges carry the label."""

import numpy as np
import pytest

from dlspec.data.generate import generate
from dlspec.data.graph_generate import community_means, sbm
from dlspec.data.graphs import SBM_DEFAULTS
from dlspec.data.synthetic import synthetic_params


def draw(seed=0, samples=300, nodes=24, communities=4, p_in=0.5, p_out=0.02, noise=1.2,
         features=8):
    return sbm(np.random.default_rng(seed), samples, nodes, communities, p_in, p_out, noise,
               features)


def test_shapes_dtypes_and_balanced_communities():
    fields, y = draw(samples=10, nodes=13, communities=3, features=5)
    assert list(fields) == ["x", "adjacency"]
    assert fields["x"].shape == (10, 13, 5) and fields["x"].dtype == np.float32
    assert fields["adjacency"].shape == (10, 13, 13) and fields["adjacency"].dtype == np.float32
    assert y.shape == (10, 13) and y.dtype == np.int64
    # 13 nodes among 3 communities: 5, 4, 4 in every graph, in a different order per graph
    assert all(sorted(np.bincount(row, minlength=3)) == [4, 4, 5] for row in y)
    assert len({tuple(row) for row in y}) == 10


def test_adjacency_is_symmetric_zero_one_without_self_loops():
    adjacency = draw()[0]["adjacency"]
    assert set(np.unique(adjacency)) == {0.0, 1.0}
    assert np.array_equal(adjacency, adjacency.transpose(0, 2, 1))
    assert not adjacency[:, np.arange(24), np.arange(24)].any()


def test_edges_join_nodes_of_one_community():
    fields, y = draw(p_in=0.5, p_out=0.02)
    adjacency = fields["adjacency"]
    same = y[:, :, None] == y[:, None, :]
    pairs = same & ~np.eye(24, dtype=bool)
    within, across = adjacency[pairs].mean(), adjacency[~same].mean()
    assert within == pytest.approx(0.5, abs=0.01) and across == pytest.approx(0.02, abs=0.003)
    # 5 neighbours of 6 share the node's community (5 of 24 nodes are in it)
    share = (adjacency * same).sum() / adjacency.sum()
    assert 0.8 < share < 0.9


def nearest_mean_accuracy(x, y, communities):
    """Classify each node by its nearest community mean (fitted on the data itself)."""
    means = np.stack([x[y == c].mean(axis=0) for c in range(communities)])
    guess = np.argmin(((x[..., None, :] - means) ** 2).sum(-1), axis=-1)
    return (guess == y).mean()


def test_the_features_hint_and_the_graph_tells():
    fields, y = draw(seed=1)
    x, adjacency = fields["x"], fields["adjacency"]
    alone = nearest_mean_accuracy(x, y, 4)
    # each node's features averaged with its neighbours' (the mean over itself and them)
    linked = adjacency + np.eye(24, dtype=np.float32)
    averaged = linked @ x / linked.sum(axis=2, keepdims=True)
    together = nearest_mean_accuracy(averaged, y, 4)
    assert 0.4 < alone < 0.6  # chance is 0.25
    assert together > alone + 0.15, (alone, together)  # one hop: 0.51 -> 0.69


def test_without_noise_the_features_give_the_community():
    fields, y = draw(noise=0.0, samples=5)
    assert nearest_mean_accuracy(fields["x"], y, 4) == 1.0


@pytest.mark.parametrize("communities, features", [(4, 8), (4, 4), (6, 3)])
def test_community_means_are_unit_vectors_orthogonal_where_they_can_be(communities, features):
    means = community_means(np.random.default_rng(0), communities, features)
    assert means.shape == (communities, features)
    gram = means @ means.T
    assert np.allclose(np.diag(gram), 1.0)
    if features >= communities:
        assert np.allclose(gram, np.eye(communities), atol=1e-12)
    else:
        assert len({tuple(np.round(m, 6)) for m in means}) == communities


def test_generate_is_fixed_by_the_seed_and_takes_the_parameters():
    params = synthetic_params("sbm", {"samples": 20, "nodes": 10, "node_features": 3})
    a, b = generate("sbm", params, 5, (0.8, 0.1, 0.1)), generate("sbm", params, 5, (0.8, 0.1, 0.1))
    c = generate("sbm", params, 6, (0.8, 0.1, 0.1))
    assert a.x.shape == (20, 10, 3) and a.y.shape == (20, 10)
    assert list(a.fields) == ["x", "adjacency"] and a.fields["x"] is a.x
    assert a.fields["adjacency"].shape == (20, 10, 10)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)
    assert a.class_names == ["community_0", "community_1", "community_2", "community_3"]
    assert a.feature_names == ["f0", "f1", "f2"]
    assert params["p_in"] == SBM_DEFAULTS["p_in"] and params["communities"] == 4

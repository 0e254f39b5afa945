"""Graph layers: GCN against Kipf & Welling's formula worked out by hand, GAT against a
straightforward per-node reference of Velickovic et al., both input forms of the graph, and
ONNX export with a symbolic node count."""

from __future__ import annotations

import math
import textwrap

import pytest
import torch

from dlspec.backends.torch_layers.graph import GAT, GCN, dense_adjacency
from dlspec.passes.infer_shapes import infer_shapes
from dlspec.passes.lower import lower
from dlspec.spec.load import load_text

# the path 0 - 1 - 2 - 3, undirected
PATH = torch.tensor([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]], dtype=torch.float32)
PATH_EDGES = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])


def test_gcn_is_the_normalized_propagation_by_hand():
    torch.manual_seed(0)
    layer = GCN(3, 2)
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(1, 4, 3)
    # A + I has degrees 2, 3, 3, 2; entry [i, j] is 1 / sqrt(d_i d_j) where there is an edge
    s6 = 1 / math.sqrt(6)
    propagation = torch.tensor([[1 / 2, s6, 0, 0], [s6, 1 / 3, 1 / 3, 0],
                                [0, 1 / 3, 1 / 3, s6], [0, 0, s6, 1 / 2]])
    expected = propagation @ x[0] @ layer.lin.weight.T + layer.bias
    out = layer(x, PATH.unsqueeze(0))
    torch.testing.assert_close(out[0], expected)
    edge_layer = GCN(3, 2, edge_index=True)
    edge_layer.load_state_dict(layer.state_dict())
    torch.testing.assert_close(edge_layer(x, PATH_EDGES.unsqueeze(0)), out)


def test_gcn_keeps_existing_self_loops_and_weights():
    layer = GCN(2, 2, bias=False)
    x = torch.randn(1, 3, 2)
    weighted = torch.tensor([[[2.0, 0.5, 0], [0.5, 0, 0], [0, 0, 0]]])
    # node 0 keeps its self loop of weight 2; nodes 1 and 2 get one of weight 1
    with_loops = torch.tensor([[2.0, 0.5, 0], [0.5, 1, 0], [0, 0, 1]])
    scale = with_loops.sum(1).rsqrt()
    expected = (scale[:, None] * with_loops * scale[None, :]) @ layer.lin(x[0])
    torch.testing.assert_close(layer(x, weighted)[0], expected)
    # without self loops the isolated node 2 has degree 0 and receives nothing
    bare = GCN(2, 2, bias=False, add_self_loops=False)
    assert torch.equal(bare(x, weighted)[0, 2], torch.zeros(2))


def test_edge_index_lists_source_then_target_and_repeats_pad():
    edges = torch.tensor([[[0, 2, 0], [1, 1, 1]]])  # 0 -> 1, 2 -> 1, and 0 -> 1 again (pad)
    adjacency = dense_adjacency(edges, 3, torch.float32)[0]
    assert adjacency.tolist() == [[0, 0, 0], [1, 0, 1], [0, 0, 0]]


def gat_reference(layer: GAT, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
    """Velickovic et al., one node and one head at a time (a single sample)."""
    heads, width = layer.heads, layer.out_features
    h = (x @ layer.lin.weight.T).reshape(len(x), heads, width)
    out = torch.zeros(len(x), heads, width)
    for head in range(heads):
        a_src, a_dst = layer.att_src[0, head], layer.att_dst[0, head]
        for i in range(len(x)):
            neighbours = [j for j in range(len(x)) if adjacency[i, j] != 0 or i == j]
            scores = torch.stack([torch.nn.functional.leaky_relu(
                a_dst @ h[i, head] + a_src @ h[j, head], layer.negative_slope)
                for j in neighbours])
            alpha = torch.softmax(scores, dim=0)
            out[i, head] = sum(a * h[j, head] for a, j in zip(alpha, neighbours, strict=True))
    out = out.reshape(len(x), heads * width) if layer.concat else out.mean(1)
    return out + layer.bias


@pytest.mark.parametrize("concat", [True, False])
def test_gat_attention_equals_the_reference(concat):
    torch.manual_seed(1)
    layer = GAT(3, 2, heads=2, concat=concat).eval()
    torch.nn.init.normal_(layer.bias)
    directed = torch.tensor([[0, 1, 0, 0], [0, 0, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0.0]])
    x = torch.randn(4, 3)
    expected = gat_reference(layer, x, directed)
    torch.testing.assert_close(layer(x[None], directed[None])[0], expected)
    edge_layer = GAT(3, 2, heads=2, concat=concat, edge_index=True).eval()
    edge_layer.load_state_dict(layer.state_dict())
    edges = torch.tensor([[[1, 2, 3, 0], [0, 1, 1, 2]]])  # the same graph, as source -> target
    torch.testing.assert_close(edge_layer(x[None], edges)[0], expected)


def test_gat_parameters_are_shaped_as_pytorch_geometric():
    layer = GAT(5, 4, heads=3, concat=False)
    shapes = {name: tuple(p.shape) for name, p in layer.named_parameters()}
    assert shapes == {"lin.weight": (12, 5), "att_src": (1, 3, 4), "att_dst": (1, 3, 4),
                      "bias": (4,)}


def test_gat_drops_attention_only_while_training():
    torch.manual_seed(2)
    layer = GAT(3, 4, dropout=0.5)
    x, full = torch.randn(2, 5, 3), torch.ones(2, 5, 5)
    evaluated = layer.eval()(x, full)
    assert torch.equal(layer(x, full), evaluated)
    assert not torch.allclose(layer.train()(x, full), evaluated)


def test_a_gcn_spec_takes_features_and_adjacency():
    graph = infer_shapes(lower(load_text(textwrap.dedent("""\
        dlspec: 1
        name: gcn
        inputs:
          features: {shape: [nodes, 16]}
          adjacency: {shape: [nodes, nodes]}
        model:
          - {op: gcn, name: gcn1, inputs: [features, adjacency], out_features: 8}
          - {op: relu}
          - {op: gat, name: gat1, inputs: [relu, adjacency], out_features: 4, heads: 2}
        """), "s.yaml")))
    assert graph.node("gcn1").type.shape == ("N", "nodes", 8)
    assert graph.node("gat1").type.shape == ("N", "nodes", 8)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(("layer", "form"), [(GCN, "dense"), (GAT, "edge_index")])
def test_export_with_symbolic_nodes(layer, form, tmp_path):
    """The forms the op table does not export (it takes gcn by edge index, gat dense)."""
    from dlspec.backends.onnx_export import TensorInfo, export_onnx

    if form == "dense":  # positive edge weights: a weighted graph
        graph = TensorInfo("graph", ("nodes", "nodes"), center=1.0, scale=0.2)
    else:
        graph = TensorInfo("graph", (2, "edges"), "int64")
    report = export_onnx(layer(6, 4, edge_index=form == "edge_index"),
                         [TensorInfo("x", ("nodes", 6)), graph], ["y"], tmp_path / "g.onnx",
                         int_high={"graph": 16})  # nodes are 16 at export, 23 at the check
    assert report.input_dims["x"] == ("batch", "nodes", 6)
    assert report.output_dims["y"] == ("batch", "nodes", 4)

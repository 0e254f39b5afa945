"""The ONNX check's inputs look like the data: roles from the ops that read each input, and
statistics from the spec's dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dlspec.backends.onnx_data_like import (
    data_samples,
    describe_draw,
    graph_roles,
    like_data,
    with_roles,
)
from dlspec.backends.onnx_export import TensorInfo
from dlspec.backends.onnx_inputs import example_tensors
from dlspec.compiler import check_spec
from dlspec.ops.base import InputRole

SPECS = Path(__file__).resolve().parents[2] / "specs"


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text("dlspec: 1\nname: roles\n" + text)
    return path


def _draw(inputs: list[TensorInfo], sizes: dict[str, int], batch: int = 64):
    return example_tensors(inputs, batch, sizes, None, torch.Generator().manual_seed(0))


def test_gcn_adjacency_is_drawn_zero_one():
    checked = check_spec(SPECS / "gcn.yaml")
    roles = graph_roles(checked.graph)
    assert roles == {"adjacency": InputRole("adjacency")}  # x has no role: N(0, 1)
    inputs = with_roles([TensorInfo("x", ("nodes", 1433)),
                         TensorInfo("adjacency", ("nodes", "nodes"))], roles)
    x, adjacency = _draw(inputs, {"nodes": 20}, batch=3)
    assert set(adjacency.unique().tolist()) == {0.0, 1.0}
    assert 0.2 < adjacency.mean().item() < 0.4
    assert x.min() < -1 and describe_draw(inputs[1]) == "0/1 adjacency (rate 0.30)"


def test_ids_masks_and_edge_indices_follow_the_layers_that_read_them(tmp_path):
    spec = _spec(tmp_path, """
inputs:
  ids: {shape: [seq], dtype: int64}
  mask: {shape: [seq], dtype: int64}
  x: {shape: [nodes, 4]}
  edges: {shape: [2, edges], dtype: int64}
model:
  - {op: embedding, name: big, inputs: ids, num_embeddings: 50, embedding_dim: 8}
  - {op: embedding, name: small, inputs: ids, num_embeddings: 30, embedding_dim: 8}
  - {op: add, name: both, inputs: [big, small]}
  - {op: transformer_encoder_block, name: block, inputs: [both, mask], heads: 2}
  - {op: gcn, name: conv, inputs: [x, edges], out_features: 8}
outputs: [block, conv]
""")
    graph = check_spec(spec).graph
    roles = graph_roles(graph)
    assert roles == {"ids": InputRole("ids", 30), "mask": InputRole("mask"),
                     "edges": InputRole("edge_index", "nodes")}
    inputs = with_roles([TensorInfo(n, graph.node(n).type.sample_shape, graph.node(n).type.dtype)
                         for n in graph.inputs], roles)
    ids, mask, x, edges = _draw(inputs, {"seq": 12, "nodes": 7, "edges": 40})
    assert ids.min() >= 0 and ids.max() == 29
    assert mask.dtype == torch.int64 and (mask[:, 0] == 1).all()
    assert (mask[:, 1:] <= mask[:, :-1]).all()  # ones, then padding
    assert len(set(mask.sum(dim=1).tolist())) > 5  # lengths vary
    assert edges.min() >= 0 and edges.max() == 6  # below the node count
    assert [describe_draw(i) for i in inputs] == [
        "ids in [0, 30)", "0/1 padding mask", "N(0, 1)", "edge_index in [0, nodes)"]


def test_inputs_drawn_like_the_spec_data():
    ids = TensorInfo("tokens", ("seq",), "int64", role="ids", high=10)
    assert like_data(ids, np.array([[3, 9, 0], [1, 2, 4]])).high == 10
    assert like_data(ids, np.array([[3, 5, 0], [1, 2, 4]])).high == 6
    binary = like_data(TensorInfo("x", (4,)), np.array([[0, 1, 1, 1], [0, 0, 1, 1.0]]))
    assert (binary.role, binary.rate) == ("binary", 0.625)
    rng = np.random.default_rng(0)
    samples = rng.normal(5.0, 2.0, size=(500, 3, 4)).astype(np.float32)
    per_element = like_data(TensorInfo("x", (3, 4)), samples)
    assert per_element.center.shape == (3, 4) and np.allclose(per_element.center, 5, atol=0.4)
    per_feature = like_data(TensorInfo("x", ("seq", 4)), samples)
    assert per_feature.center.shape == (4,) and np.allclose(per_feature.scale, 2, atol=0.2)
    (drawn,) = _draw([per_feature], {"seq": 20}, batch=50)
    assert abs(drawn.mean().item() - 5) < 0.2 and abs(drawn.std().item() - 2) < 0.2


def test_a_spec_dataset_gives_the_samples(tmp_path):
    checked = check_spec(SPECS / "gru-reverse.yaml", ["data.samples=200"])
    samples = data_samples(checked)
    assert samples.dtype == np.int64 and samples.shape[1] == 12
    assert samples.max() == 9 and samples.min() == 0
    assert data_samples(check_spec(SPECS / "gcn.yaml")) is None  # no dataset
    broken = check_spec(SPECS / "regression-diabetes.yaml",
                        ["data={dataset: csv, path: missing.csv, target: y}"])
    assert data_samples(broken) is None  # not loadable: the roles still apply


def test_an_image_folder_is_not_decoded_for_the_export_check(tmp_path, monkeypatch):
    from image_folders import digit_folder, write_spec

    from dlspec.api import check
    from dlspec.backends.onnx_data_like import data_samples
    from dlspec.data.image_decode import ImageShape

    digit_folder(tmp_path / "digits", per_class=2)
    monkeypatch.setattr(ImageShape, "decode", lambda self, path: 1 / 0)  # never called
    assert data_samples(check(write_spec(tmp_path, "{images: digits}"))) is None

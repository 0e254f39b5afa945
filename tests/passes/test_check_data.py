"""Which task a spec trains for, and the model-vs-data facts validate reads from the graph."""

from pathlib import Path

import pytest

from dlspec.compiler import check_spec
from dlspec.passes.check_data import model_io, task_of

SPECS = Path(__file__).resolve().parents[2] / "specs"

TOKENS = """dlspec: 1
name: t
inputs: {ids: {shape: [seq], dtype: int64, dims: {seq: {min: 2, max: 40}}}}
model:
  - {op: embedding, num_embeddings: 12, embedding_dim: 8}
  - {op: linear, out_features: 10}
"""
TABLE = """dlspec: 1
name: t
inputs: {x: {shape: [64]}}
model:
  - {op: linear, out_features: 3}
"""


def checked(tmp_path, body, extra):
    path = tmp_path / "spec.yaml"
    path.write_text(body + extra)
    return check_spec(path)


@pytest.mark.parametrize("body, extra, task", [
    (TOKENS, "data: {dataset: copy}\n", "tagging"),
    (TOKENS, "data: {dataset: copy}\nloss: {op: cross_entropy}\n", "tagging"),
    (TOKENS, "data: {dataset: copy}\nloss: {op: mse}\n", "regression"),  # then a misfit
    (TOKENS, "data: {dataset: chars}\n", "language_model"),
    (TOKENS, "data: {dataset: brackets}\nloss: {op: bce_with_logits}\n", "binary"),
    (TOKENS, "data: {dataset: brackets}\n", "classification"),
    (TABLE, "data: {dataset: digits_multilabel}\n", "multilabel"),
    (TABLE, "data: {dataset: digits_multilabel}\nloss: {op: bce_with_logits}\n", "multilabel"),
    (TABLE, "data: {dataset: diabetes}\n", "regression"),
    (TABLE, "data: {dataset: breast_cancer}\n", "classification"),
    (TABLE, "data: {dataset: breast_cancer, task: binary}\n", "binary"),
    (TABLE, "data: {dataset: csv, path: d.csv}\nloss: {op: bce_with_logits}\n", "binary"),
])
def test_the_task_comes_from_data_task_the_dataset_or_the_loss(tmp_path, body, extra, task):
    assert task_of(checked(tmp_path, body, extra).spec) == task


def test_model_io_reads_shapes_dtype_vocabulary_and_bounds(tmp_path):
    io = model_io(checked(tmp_path, TOKENS, "data: {dataset: copy}\n"))
    assert (io.input_shape, io.output_shape, io.input_dtype) == (("seq",), ("seq", 10), "int64")
    assert io.vocabulary == 12 and io.dims == {"seq": (2, 40)}
    assert model_io(checked(tmp_path, TABLE, "")) is None  # no data section: nothing to fit

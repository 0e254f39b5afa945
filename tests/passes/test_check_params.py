"""`tie` and `init` against the parameters the layers will have, checked by `validate` (no
torch) and located at the key: what `compile` and `train` used to find while building."""

from __future__ import annotations

import textwrap

import pytest

from dlspec.api import check
from dlspec.errors import ShapeError, SpecError

HEAD = """\
dlspec: 1
name: t
inputs: {ids: {shape: [seq], dtype: int64}}
"""


def errors(tmp_path, text: str, kind=SpecError):
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + textwrap.dedent(text))
    with pytest.raises(kind) as caught:
        check(path)
    return caught.value.diagnostics


def test_tying_weights_of_different_shapes_is_located_at_the_tie(tmp_path):
    [d] = errors(tmp_path, """\
        model:
          - {op: embedding, name: wte, num_embeddings: 50, embedding_dim: 8}
          - op: linear
            name: head
            out_features: 49
            bias: false
            tie: wte
        """, ShapeError)
    assert (d.code, d.layer, d.op) == ("DLS201", "head", "linear")
    assert (d.span.file, d.span.line, d.span.col) == (str(tmp_path / "s.yaml"), 10, 10)
    assert d.message == "tied weights differ in shape: this layer's is (49, 8), 'wte' has " \
                        "(50, 8)"


def test_tying_to_a_layer_without_a_weight_is_located(tmp_path):
    [d] = errors(tmp_path, """\
        model:
          - {op: embedding, name: wte, num_embeddings: 50, embedding_dim: 8}
          - {op: relu, name: act}
          - {op: linear, name: head, out_features: 50, tie: act}
        """)
    assert (d.code, d.layer, d.span.line, d.span.col) == ("DLS102", "head", 7, 53)
    assert "both need a `weight`" in d.message


def test_a_matching_tie_and_valid_globs_pass(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + textwrap.dedent("""\
        init:
          lstm: {"weight_hh_*": orthogonal, "bias_*": zeros}
        model:
          - {op: embedding, name: wte, num_embeddings: 50, embedding_dim: 8}
          - {op: lstm, hidden_size: 8, num_layers: 2}
          - {op: linear, name: head, out_features: 50, tie: wte, init: {"b*": zeros}}
        """))
    assert check(path).graph.node("head").tie == "wte"


def test_a_misspelt_init_glob_is_located_at_its_key_with_did_you_mean(tmp_path):
    [d] = errors(tmp_path, """\
        model:
          - {op: embedding, num_embeddings: 5, embedding_dim: 4}
          - op: lstm
            hidden_size: 4
            init:
              weight_ih_l0: orthogonal
              weigth_hh_*: orthogonal
        """)
    assert (d.code, d.layer, d.span.line, d.span.col) == ("DLS102", "lstm", 10, 7)
    assert d.message == "init 'weigth_hh_*' matches no parameter of this layer"
    assert d.hint == "did you mean 'weight_hh_l0'?"


def test_an_init_glob_for_a_layer_without_that_parameter_lists_its_parameters(tmp_path):
    [d] = errors(tmp_path, """\
        model:
          - {op: embedding, name: wte, num_embeddings: 5, embedding_dim: 4, init: {bias: zeros}}
        """)
    assert (d.span.line, d.span.col) == (5, 76)
    assert d.hint == "its parameters: weight"


def test_a_matrix_scheme_on_a_vector_is_reported_once_at_the_top_level_init(tmp_path):
    [d] = errors(tmp_path, """\
        init:
          linear: {"*": orthogonal}
        model:
          - {op: embedding, num_embeddings: 5, embedding_dim: 4}
          - {op: linear, name: a, out_features: 4}
          - {op: linear, name: b, out_features: 4}
          - {op: linear, name: c, out_features: 4}
        """)
    assert (d.code, d.span.line, d.span.col) == ("DLS102", 5, 12)
    assert d.message == "orthogonal needs a weight with 2 or more dims; 'bias' has 1 " \
                        "(also in b, c)"


def test_tying_to_a_layer_of_another_model_is_refused_at_the_tie(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(textwrap.dedent("""\
        dlspec: 1
        name: t
        models:
          enc:
            inputs: {x: {shape: [8]}}
            layers:
              - {op: linear, name: fc, out_features: 4}
          dec:
            inputs: {z: {shape: [4]}}
            layers:
              - {op: linear, name: out, out_features: 8, tie: enc.fc}
        """))
    with pytest.raises(SpecError) as caught:
        check(path)
    [d] = caught.value.diagnostics
    assert (d.code, d.span.line) == ("DLS301", 11)
    assert "'enc' is not a layer of this model" in d.message and "share no" in d.message

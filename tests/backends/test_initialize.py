"""Weight initialization schemes and weight tying, applied when the module is built."""

from __future__ import annotations

import math
import textwrap

import pytest
import torch

from dlspec.backends.torch_module import build_module
from dlspec.compiler import check_spec
from dlspec.errors import ShapeError, SpecError

HEAD = """\
dlspec: 1
name: t
inputs: {ids: {shape: [seq], dtype: int64}}
"""


def module_of(tmp_path, text: str, seed: int = 0):
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + textwrap.dedent(text))
    torch.manual_seed(seed)
    checked = check_spec(path)
    return checked, build_module(checked.graph)


def test_tied_head_shares_the_embedding_matrix(tmp_path):
    checked, module = module_of(tmp_path, """\
        model:
          - {op: embedding, name: wte, num_embeddings: 50, embedding_dim: 8}
          - {op: linear, name: head, out_features: 50, bias: false, tie: wte}
        """)
    assert checked.graph.node("head").tie == "wte"
    assert module.head.weight is module.wte.weight
    assert sum(p.numel() for p in module.parameters()) == 50 * 8  # counted once
    ids = torch.tensor([[1, 2, 3]])
    expected = module.wte.weight[ids] @ module.wte.weight.T
    assert torch.allclose(module(ids), expected)


def test_tying_different_shapes_is_a_located_error(tmp_path):
    with pytest.raises(ShapeError) as caught:
        module_of(tmp_path, """\
            model:
              - {op: embedding, name: wte, num_embeddings: 50, embedding_dim: 8}
              - {op: linear, name: head, out_features: 49, bias: false, tie: wte}
            """)
    [d] = caught.value.diagnostics
    assert (d.code, d.span.line, d.layer) == ("DLS201", 6, "head")
    assert "this layer's is (49, 8), 'wte' has (50, 8)" in d.message


def test_unknown_tie_target_gets_a_suggestion(tmp_path):
    with pytest.raises(SpecError) as caught:
        module_of(tmp_path, """\
            model:
              - {op: embedding, name: wte, num_embeddings: 50, embedding_dim: 8}
              - {op: linear, name: head, out_features: 50, tie: wt}
            """)
    [d] = caught.value.diagnostics
    assert (d.code, d.hint) == ("DLS301", "did you mean 'wte'?")


def test_schemes_per_op_and_per_layer(tmp_path):
    _, module = module_of(tmp_path, """\
        init:
          linear: {weight: {scheme: normal, std: 0.02}, bias: zeros}
        model:
          - {op: embedding, name: wte, num_embeddings: 50, embedding_dim: 64,
             init: {weight: {scheme: constant, value: 0.5}}}
          - {op: linear, name: a, out_features: 512}
          - {op: linear, name: b, out_features: 256, init: {weight: orthogonal, bias: ones}}
          - {op: linear, name: c, out_features: 400,
             init: {weight: {scheme: kaiming_normal, mode: fan_in}}}
        """)
    assert torch.all(module.wte.weight == 0.5)
    assert module.a.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert torch.all(module.a.bias == 0)
    gram = module.b.weight.T @ module.b.weight  # (256, 512) orthogonal rows -> W^T W = I
    assert torch.allclose(module.b.weight @ module.b.weight.T, torch.eye(256), atol=1e-5)
    assert gram.shape == (512, 512) and torch.all(module.b.bias == 1)
    # He: std = sqrt(2 / fan_in) with fan_in 256; the op default's bias (zeros) still applies
    assert module.c.weight.std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.05)
    assert torch.all(module.c.bias == 0)


def test_a_layer_init_that_matches_nothing_is_an_error(tmp_path):
    with pytest.raises(SpecError) as caught:
        module_of(tmp_path, """\
            model:
              - {op: embedding, name: wte, num_embeddings: 5, embedding_dim: 4,
                 init: {bias: zeros}}
            """)
    [d] = caught.value.diagnostics
    assert d.message == "init 'bias' matches no parameter of this layer"
    assert d.hint == "its parameters: weight"


@pytest.mark.parametrize(("init", "where", "text"), [
    ("init: {linaer: {weight: zeros}}\n", "top", "unknown op 'linaer': did you mean 'linear'?"),
    ("", "layer", "'he'"),
])
def test_bad_scheme_and_unknown_op_are_located(tmp_path, init, where, text):
    layer_init = ", init: {weight: {scheme: he}}" if where == "layer" else ""
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + init + "model:\n  - {op: embedding, num_embeddings: 5, "
                    f"embedding_dim: 4{layer_init}}}\n")
    with pytest.raises(SpecError) as caught:
        check_spec(path)
    [d] = caught.value.diagnostics
    assert d.code == "DLS102" and text in d.message
    assert d.span.line == (4 if where == "top" else 5)

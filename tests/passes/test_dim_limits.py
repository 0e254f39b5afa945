"""dlspec.passes.dim_limits: a learned position table reads a symbolic `seq` only when the
input bounds it by the table's size (found by the generated-spec test: bert-base with
`max_len: 2` validated, then failed its forward pass at 6 positions)."""

from __future__ import annotations

import pytest

from dlspec.compiler import check_spec
from dlspec.errors import ShapeError

SPEC = """\
dlspec: 1
name: lm
inputs:
  ids: {{shape: [seq], dtype: int64{dims}}}
model:
  - {{op: embedding, num_embeddings: 10, embedding_dim: 8}}
  - {{op: learned_position, name: pos, max_len: 4}}
  - {{op: linear, out_features: 10}}
"""


def errors(tmp_path, dims: str) -> list:
    path = tmp_path / "lm.yaml"
    path.write_text(SPEC.format(dims=dims))
    with pytest.raises(ShapeError) as caught:
        check_spec(path)
    return [(d.code, d.span.line, d.span.col, d.layer, d.message, d.hint)
            for d in caught.value.diagnostics]


def test_a_bound_above_max_len_is_refused_at_the_layer(tmp_path):
    assert errors(tmp_path, ", dims: {seq: {max: 16}}") == [(
        "DLS201", 7, 5, "pos",
        "dim 'seq' may be up to 16 (the inputs' declared max), but max_len is 4",
        "raise max_len to 16, or lower the declared max")]


def test_an_unbounded_seq_is_refused(tmp_path):
    assert errors(tmp_path, "") == [(
        "DLS201", 7, 5, "pos", "dim 'seq' has no upper bound, but max_len is 4",
        "bound it where the input declares it: `dims: {seq: {max: 4}}`")]


def test_a_bound_within_max_len_passes(tmp_path):
    path = tmp_path / "lm.yaml"
    path.write_text(SPEC.format(dims=", dims: {seq: {max: 4}}"))
    assert str(check_spec(path).graph.node("pos").type) == "(N, seq, 8)"

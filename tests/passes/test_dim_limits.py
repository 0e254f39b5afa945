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


POSITIONS = """\
dlspec: 1
name: lm
inputs:
  ids: {{shape: [{seq}], dtype: int64{dims}}}
model:
  - {{op: arange, name: positions, start: {start}}}
  - {{op: embedding, name: pos, num_embeddings: 10, embedding_dim: 8}}
"""


@pytest.mark.parametrize(("seq", "dims", "start", "message", "hint"), [
    ("seq", ", dims: {seq: {max: 10}}", 2,
     "'positions' (arange) gives positions 2 to 11 (dim 'seq' up to 10), but num_embeddings is "
     "10: ids are 0 to 9", "raise num_embeddings to 12, or lower the declared max"),
    ("11", "", 0, "'positions' (arange) gives positions 0 to 10 (a sequence of 11), but "
     "num_embeddings is 10: ids are 0 to 9", "raise num_embeddings to 11, or shorten the sequence"),
    ("seq", "", 1, "the positions of 'positions' (arange) count dim 'seq', which has no upper "
     "bound, but num_embeddings is 10", "bound it where the input declares it: "
     "`dims: {seq: {max: 9}}`"),
    ("seq", ", dims: {seq: {max: 4}}", -1, "'positions' (arange) gives positions -1 to 2 (dim "
     "'seq' up to 4), but num_embeddings is 10: ids are 0 to 9", "start the positions at 0 or more"),
])
def test_an_embedding_of_positions_needs_a_row_for_the_last_one(tmp_path, seq, dims, start,
                                                                 message, hint):
    """validate accepted positions past the table (export then failed: 'index out of range
    in self'); now refused at the embedding."""
    path = tmp_path / "lm.yaml"
    path.write_text(POSITIONS.format(seq=seq, dims=dims, start=start))
    with pytest.raises(ShapeError) as caught:
        check_spec(path)
    assert [(d.code, d.span.line, d.layer, d.message, d.hint)
            for d in caught.value.diagnostics] == [("DLS201", 7, "pos", message, hint)]


def test_positions_that_fit_the_table_pass(tmp_path):
    path = tmp_path / "lm.yaml"
    path.write_text(POSITIONS.format(seq="seq", dims=", dims: {seq: {max: 8}}", start=2))
    assert str(check_spec(path).graph.node("pos").type) == "(N, seq, 8)"


def test_an_embedding_of_relative_position_buckets_needs_a_row_per_bucket(tmp_path):
    path = tmp_path / "lm.yaml"
    path.write_text(POSITIONS.format(seq="seq", dims=", dims: {seq: {max: 8}}", start=0).replace(
        "{op: arange, name: positions, start: 0}",
        "{op: relative_position_buckets, name: positions, num_buckets: 12}"))
    with pytest.raises(ShapeError) as caught:
        check_spec(path)
    assert [(d.code, d.span.line, d.layer, d.message, d.hint)
            for d in caught.value.diagnostics] == [(
                "DLS201", 7, "pos", "'positions' (relative_position_buckets) gives buckets 0 "
                "to 11, but num_embeddings is 10", "raise num_embeddings to num_buckets, 12")]

"""Tensor-name globs with captures and the `{i}` templates that reuse them."""

from __future__ import annotations

import pytest

from dlspec.weights.globs import TemplateError, captures, fill, match, matches_tail


@pytest.mark.parametrize(("pattern", "name", "groups"), [
    ("layer*.*.bn?.*", "layer1.0.bn2.weight", ("1", "0", "2", "weight")),
    ("layer*.*.bn?.*", "layer1.0.bn12.weight", None),  # `?` is one character
    ("h.*.ln_1.weight", "h.10.ln_1.weight", ("10",)),
    ("h.*.weight", "h.1.mlp.weight", None),  # `*` never crosses a dot
    ("encoder.**", "encoder.layer.3.output.dense.bias", ("layer.3.output.dense.bias",)),
    ("fc.weight", "fc.weight", ()),
    ("fc.weight", "fcXweight", None),  # the dot is literal
])
def test_match_captures_each_wildcard(pattern, name, groups):
    found = match(pattern, name)
    assert (found if found is None else found[1:]) == groups
    if found is not None:
        assert found[0] == name


def test_captures_counts_wildcards():
    assert captures("a.**.b*.?") == 3
    assert captures("fc.weight") == 0


def test_fill_replaces_fields_and_shifts_numbers():
    groups = ("blocks.3.w", "3", "w")
    assert fill("features.{1}.{2}", groups) == "features.3.w"
    assert fill("features.{1+1}.conv.{1-3}", groups) == "features.4.conv.0"
    assert fill("{0}", groups) == "blocks.3.w"
    with pytest.raises(TemplateError, match="'w', not a number"):
        fill("x.{2+1}", groups)


def test_matches_tail_matches_the_last_dotted_parts():
    assert matches_tail("*.num_batches_tracked", "layer1.0.bn1.num_batches_tracked")
    assert matches_tail("lm_head.weight", "lm_head.weight")
    assert not matches_tail("*.num_batches_tracked", "num_batches_tracked_x")
    assert not matches_tail("bn1.*", "layer1.0.bn1.weight.extra")


def test_a_table_shifts_by_the_entry_of_another_capture():
    groups = ("block3.1.bn.weight", "3", "1", "bn.weight")
    tables = {"first": {"2": 2, "3": 4}}
    assert fill("features.{2+first[1]}.{3}", groups, tables) == "features.5.bn.weight"
    assert fill("stage.{first[1]}.{2-1}", groups, tables) == "stage.4.0"
    with pytest.raises(TemplateError, match="table 'first' has no entry for '1' "
                                            r"\(capture 2\)"):
        fill("x.{first[2]}", groups, tables)

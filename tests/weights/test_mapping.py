"""Weight mapping files: format, located errors, shipped mappings (no torch)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dlspec.errors import SourceSpan, SpecError
from dlspec.weights.mapping import (
    load_mapping,
    parse_mapping,
    shipped_mapping,
    shipped_names,
)

GOOD = """\
dlspec_mapping: 1
reference: somewhere
spec: tiny
rules:
  - {to: "layer*.*", from: "blocks.{1}.{2}"}
  - {to: "qkv", from: ["q", "k", "v"], dim: 1}
  - {to: "w", from: "c_attn.weight", chunk: [2, 3], dim: 1, transpose: true, scale: 0.5}
  - {to: "s", fill: 1}
ignore: ["*.num_batches_tracked"]
"""


def test_a_mapping_reads_every_field_and_remembers_where_rules_are(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(GOOD)
    mapping = load_mapping(path)
    assert mapping.spec == "tiny" and mapping.reference == "somewhere"
    assert [r.sources for r in mapping.rules] == [["blocks.{1}.{2}"], ["q", "k", "v"],
                                                   ["c_attn.weight"], []]
    rule = mapping.rules[2]
    assert (rule.chunk, rule.dim, rule.transpose, rule.scale) == ((2, 3), 1, True, 0.5)
    assert mapping.rules[3].fill == 1.0
    assert mapping.ignore == ["*.num_batches_tracked"]
    assert mapping.rule_span(1) == SourceSpan(str(path), 6, 5)
    assert load_mapping("m.yaml", base_dir=tmp_path).rules == mapping.rules


@pytest.mark.parametrize(("rule", "code", "col", "message"), [
    ('{to: "a.*", from: "b.{2}"}', "DLS102", 5, "rule 1: 'b.{2}' uses {2} but 'a.*' has 1"),
    ('{to: "a", fro: "b"}', "DLS101", 15, "unknown key 'fro'"),
    ('{to: "a", from: "b", chunk: [3, 3]}', "DLS102", 5, "0 <= i < n"),
    ('{to: "a"}', "DLS102", 5, "either `from` (source tensors) or `fill`"),
    ('{to: "a", from: "b", fill: 2}', "DLS102", 5, "either `from`"),
    ('{to: "a", from: []}', "DLS102", 5, "at least one source"),
    ('{to: "a", from: "b{1"}', "DLS102", 5, "write a capture as"),
    ('{to: "a", from: "b", reshape: [-1, -1]}', "DLS102", 5, "at most one -1"),
    ('{to: "a", fill: 0, transpose: true}', "DLS102", 5, "only `scale`"),
    ('{to: "", from: "b"}', "DLS102", 10, "at least 1 character"),
    ('{to: "a", from: "b", scale: .nan}', "DLS102", 33, "'scale': Input should be a finite"),
])
def test_a_bad_rule_is_a_located_coded_error(rule, code, col, message):
    with pytest.raises(SpecError) as caught:
        parse_mapping(f"dlspec_mapping: 1\nrules:\n  - {{to: ok, from: ok}}\n  - {rule}\n",
                      "m.yaml")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == code and message.replace("rule 1", "rule 2") in diagnostic.message
    assert (diagnostic.span.line, diagnostic.span.col) == (4, col)


def test_version_and_top_level_problems_are_located():
    with pytest.raises(SpecError) as caught:
        parse_mapping("dlspec_mapping: 2\nrules: []\n", "m.yaml")
    assert caught.value.codes == ["DLS106"] and caught.value.diagnostics[0].span.line == 1
    with pytest.raises(SpecError) as caught:
        parse_mapping("rules: []\nignor: []\n", "m.yaml")
    assert sorted(caught.value.codes) == ["DLS101", "DLS102", "DLS103"]
    with pytest.raises(SpecError, match="a weight mapping is a mapping"):
        parse_mapping("- a\n", "m.yaml")


def test_unknown_name_and_missing_file_are_located_where_they_are_written(tmp_path):
    here = SourceSpan("spec.yaml", 7, 14)
    with pytest.raises(SpecError) as caught:
        load_mapping("resnet81", span=here)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "DLS102" and diagnostic.span == here
    assert "did you mean 'resnet18'?" in diagnostic.hint
    with pytest.raises(SpecError) as caught:
        load_mapping("nothing.yaml", base_dir=tmp_path, span=here)
    assert caught.value.codes == ["DLS007"] and "does not exist" in str(caught.value)
    (tmp_path / "bad.yaml").write_bytes(b"dlspec_mapping: 1\nrules: \xff\n")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_mapping(tmp_path / "bad.yaml")


def test_shipped_mappings_load_and_are_found_by_spec_name():
    names = shipped_names()
    assert "resnet18" in names
    for name in names:
        mapping = load_mapping(name)
        assert mapping.spec is not None, name
        assert shipped_mapping(mapping.spec) is not None
    assert shipped_mapping("resnet18").spec == "resnet18"
    assert shipped_mapping("no-such-spec") is None


def test_loading_a_mapping_imports_no_torch():
    code = ("import sys; from dlspec.weights import load_mapping; load_mapping('resnet18'); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_a_rule_looking_up_a_missing_table_is_located_at_the_rule():
    with pytest.raises(SpecError) as caught:
        parse_mapping("dlspec_mapping: 1\ntables: {first: {'2': 2}}\nrules:\n"
                      "  - {to: a, from: b}\n  - {to: 'a.*', from: 'b.{start[1]}'}\n", "m.yaml")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("DLS102", 5, 5)
    assert diagnostic.message == ("rule 2: 'b.{start[1]}' looks up table 'start' but `tables` "
                                  "has first")


def test_an_item_of_a_from_list_is_not_named_as_a_rule():
    with pytest.raises(SpecError) as caught:
        parse_mapping("dlspec_mapping: 1\nrules: [{to: a, from: [b, 3]}]\n", "m.yaml")
    assert not any("rule" in d.message for d in caught.value.diagnostics)
    assert caught.value.diagnostics[-1].span.col == 27

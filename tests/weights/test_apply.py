"""map_weights: every rule's transforms, and everything that did not map, by name."""

from __future__ import annotations

import torch

from dlspec.weights import map_weights
from dlspec.weights.mapping import parse_mapping

MAPPING = parse_mapping("""\
dlspec_mapping: 1
rules:
  - {to: "blocks.*.w", from: "layers.{1+1}.weight"}
  - {to: "qkv", from: ["q", "k", "v"]}
  - {to: "wide", from: ["q", "k"], dim: 1}
  - {to: "k_t", from: "c_attn", chunk: [1, 3], dim: 1, transpose: true}
  - {to: "flat", from: "q", reshape: [-1]}
  - {to: "scaled", from: "q", scale: 0.125}
  - {to: "ones", fill: 1, scale: 3}
  - {to: "head", from: "transformer.head"}
  - {to: "head", from: "head"}
  - {to: "bad", from: "c_attn", chunk: [0, 5]}
  - {to: "odd.*", from: "x.{1+1}"}
ignore: ["*.num_batches_tracked"]
""", "m.yaml")


def _source():
    torch.manual_seed(0)
    return {"layers.1.weight": torch.randn(3), "layers.2.weight": torch.randn(3),
            "q": torch.randn(2, 2), "k": torch.randn(2, 2), "v": torch.randn(2, 2),
            "c_attn": torch.randn(4, 6), "head": torch.randn(5, dtype=torch.float64),
            "bn.num_batches_tracked": torch.tensor(3), "stray": torch.zeros(1),
            "x.y": torch.zeros(1)}


def _target():
    return {"blocks.0.w": torch.zeros(3), "blocks.1.w": torch.zeros(3),
            "qkv": torch.zeros(6, 2), "wide": torch.zeros(2, 4), "k_t": torch.zeros(2, 4),
            "flat": torch.zeros(4), "scaled": torch.zeros(2, 2), "ones": torch.zeros(2, 3),
            "head": torch.zeros(5)}


def _bad_target():
    return {"blocks.0.w": torch.zeros(4), "bad": torch.zeros(1), "blocks.2.w": torch.zeros(3),
            "nothing": torch.zeros(1), "odd.y": torch.zeros(1)}


def test_each_transform_gives_the_tensor_the_spec_wants():
    source = _source()
    mapped = map_weights(source, MAPPING, _target())
    t = mapped.tensors
    assert torch.equal(t["blocks.0.w"], source["layers.1.weight"])  # {1+1}
    assert torch.equal(t["blocks.1.w"], source["layers.2.weight"])
    assert torch.equal(t["qkv"], torch.cat([source["q"], source["k"], source["v"]]))
    assert torch.equal(t["wide"], torch.cat([source["q"], source["k"]], dim=1))
    assert torch.equal(t["k_t"], source["c_attn"][:, 2:4].t())
    assert t["k_t"].is_contiguous()
    assert torch.equal(t["flat"], source["q"].flatten())
    assert torch.allclose(t["scaled"], source["q"] / 8)
    assert torch.equal(t["ones"], torch.full((2, 3), 3.0))
    # the first rule whose sources exist: `transformer.head` is absent, `head` is not
    assert t["head"].dtype == torch.float32 and torch.allclose(t["head"], source["head"].float())
    # results never share memory with the source or each other (safetensors refuses that)
    assert t["blocks.0.w"].data_ptr() != source["layers.1.weight"].data_ptr()


def test_what_did_not_map_is_listed_by_name_with_the_reason():
    mapped = map_weights(_source(), MAPPING, _bad_target())
    assert not mapped.complete and mapped.tensors == {}
    assert mapped.missing == ["blocks.2.w", "nothing", "odd.y"]
    assert mapped.why_missing["nothing"] == "no rule matches it"
    assert mapped.mismatched == [("blocks.0.w", (3,), (4,))]
    # read by a rule, even one that failed, is not unused; num_batches_tracked is ignored
    assert mapped.unused == ["layers.2.weight", "q", "k", "v", "head", "stray", "x.y"]
    assert mapped.why_missing["odd.y"] == ("'{1+1}' shifts capture 1 but it is 'y', not a "
                                           "number (rule at line 13)")
    ((name, why),) = mapped.failed
    assert name == "bad" and "rule at line 12" in why and "5 equal pieces" in why
    assert mapped.left_out() == ["blocks.2.w", "nothing", "odd.y", "blocks.0.w", "bad"]
    text = "\n".join(mapped.lines())
    assert "nothing (no rule matches it)" in text
    assert "blocks.0.w got (3,), the spec has (4,)" in text
    assert "unused: layers.2.weight, q, k, v, head, stray, x.y" in text


def test_a_source_absent_names_the_tensor_looked_for():
    mapped = map_weights({"layers.1.weight": torch.zeros(3)}, MAPPING,
                         {"blocks.0.w": torch.zeros(3), "blocks.5.w": torch.zeros(3)})
    assert list(mapped.tensors) == ["blocks.0.w"] and mapped.missing == ["blocks.5.w"]
    assert mapped.why_missing["blocks.5.w"] == \
        "the source has no layers.6.weight (rule at line 3)"


def test_a_chunk_on_a_dim_the_tensor_lacks_names_the_dim_and_the_shape():
    mapping = parse_mapping('dlspec_mapping: 1\nrules:\n'
                            '  - {to: "q", from: "c_attn", chunk: [0, 3], dim: 2}\n', "m.yaml")
    mapped = map_weights({"c_attn": torch.zeros(4, 6)}, mapping, {"q": torch.zeros(4, 2)})
    assert mapped.failed == [("q", "rule at line 3: chunk on dim 2, but the tensor has shape "
                                   "(4, 6) (2 dims, counted from 0)")]


def test_a_complete_mapping_says_so():
    mapped = map_weights({"q": torch.ones(2, 2)}, MAPPING, {"scaled": torch.zeros(2, 2)})
    assert mapped.complete and mapped.lines() == [] and mapped.left_out() == []


def test_prefixes_tables_and_reshape_to_the_spec_shape():
    mapping = parse_mapping("""\
dlspec_mapping: 1
prefixes: ["transformer.", ""]
tables: {first: {"2": 1, "3": 3}}
rules:
  - {to: "block?.*.w", from: "features.{2+first[1]}.w"}
  - {to: "pos", from: "pos", reshape: spec}
""", "m.yaml")
    source = {"transformer.features.1.w": torch.ones(1), "features.4.w": torch.full((1,), 4.0),
              "transformer.features.4.w": torch.full((1,), 5.0),
              "pos": torch.arange(6.0).reshape(1, 3, 2)}
    target = {"block2.0.w": torch.zeros(1), "block3.1.w": torch.zeros(1),
              "block4.0.w": torch.zeros(1), "pos": torch.zeros(3, 2)}
    mapped = map_weights(source, mapping, target)
    assert torch.equal(mapped.tensors["block2.0.w"], torch.ones(1))
    assert torch.equal(mapped.tensors["block3.1.w"], torch.full((1,), 5.0))  # first prefix
    assert torch.equal(mapped.tensors["pos"], torch.arange(6.0).reshape(3, 2))
    assert mapped.missing == ["block4.0.w"]
    assert mapped.why_missing["block4.0.w"] == ("table 'first' has no entry for '4' (capture 1)"
                                                " (rule at line 5)")
    assert mapped.unused == ["features.4.w"]

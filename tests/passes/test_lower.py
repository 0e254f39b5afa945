"""dlspec.passes.lower (and blocks): names, block expansion, references, outputs, warnings."""

from __future__ import annotations

import textwrap

import pytest

from dlspec.errors import SourceSpan, SpecError
from dlspec.passes.infer_shapes import infer_shapes, unused_layers
from dlspec.passes.lower import lower
from dlspec.spec.load import load_text

HEAD = """\
dlspec: 1
name: t
"""


def graph_of(*parts: str, overrides=()):
    text = HEAD + "".join(textwrap.dedent(part) for part in parts)
    return lower(load_text(text, "s.yaml", overrides))


def errors_of(*parts: str) -> list:
    with pytest.raises(SpecError) as caught:
        graph_of(*parts)
    return caught.value.diagnostics


def names(graph) -> list[str]:
    return [node.name for node in graph.layers()]


RESIDUAL = """\
inputs: {image: {shape: [8, 8, 8]}}
blocks:
  residual:
    params: {channels: int, stride: 1}
    layers:
      - {op: conv2d, name: conv1, out_channels: "${channels}", kernel_size: 3, padding: 1, stride: "${stride}"}
      - {op: batchnorm2d, name: bn1}
      - {op: relu}
      - {op: conv2d, name: conv2, out_channels: "${channels}", kernel_size: 3, padding: 1}
      - {op: batchnorm2d, name: bn2}
"""


# --- names --------------------------------------------------------------------------------


def test_unnamed_layers_are_named_after_their_op():
    graph = graph_of("""\
        inputs: {x: {shape: [16]}}
        model:
          - {op: linear, out_features: 16}
          - {op: relu}
          - {op: linear, out_features: 16}
          - {op: relu}
          - {op: relu}
        """)
    assert names(graph) == ["linear", "relu", "linear_1", "relu_1", "relu_2"]


def test_auto_names_skip_names_given_explicitly_anywhere():
    graph = graph_of("""\
        inputs: {x: {shape: [16]}}
        model:
          - {op: relu}
          - {op: relu}
          - {op: relu, name: relu_1}
        """)
    assert names(graph) == ["relu", "relu_2", "relu_1"]


def test_block_layers_are_named_after_the_instance():
    graph = graph_of(RESIDUAL, """\
        model:
          - {block: residual, name: res1, channels: 8}
          - {block: residual, channels: 8}
        """)
    assert names(graph) == [
        "res1.conv1", "res1.bn1", "res1.relu", "res1.conv2", "res1.bn2",
        "residual.conv1", "residual.bn1", "residual.relu", "residual.conv2", "residual.bn2"]
    assert graph.node("res1.conv1").scope == "res1"


def test_repeat_numbers_the_instances_and_chains_them():
    graph = graph_of(RESIDUAL, """\
        model:
          - {block: residual, name: layer1, repeat: 2, channels: 8}
        """)
    assert names(graph)[:6] == ["layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu",
                                "layer1.0.conv2", "layer1.0.bn2", "layer1.1.conv1"]
    assert graph.node("layer1.0.conv1").inputs == ["image"]
    assert graph.node("layer1.1.conv1").inputs == ["layer1.0.bn2"]
    assert graph.node("layer1.1.conv1").scope == "layer1.1"
    assert graph.outputs == ["layer1.1.bn2"]


def test_repeat_spreads_a_list_of_one_value_per_instance():
    graph = graph_of(RESIDUAL, """\
        params: {n: 3}
        model:
          - {block: residual, name: layer1, repeat: "${n}", channels: [8, 16, 32], stride: [2, 1, 1]}
        """)
    convs = [graph.node(f"layer1.{i}.conv1").op for i in range(3)]
    assert [c.out_channels for c in convs] == [8, 16, 32]
    assert [c.stride for c in convs] == [2, 1, 1]


def test_a_list_param_is_not_spread():
    graph = graph_of("""\
        inputs: {x: {shape: [64]}}
        blocks:
          reshaper:
            params: {shape: list}
            layers: [{op: reshape, shape: "${shape}"}]
        model:
          - {block: reshaper, name: r, repeat: 2, shape: [4, 16]}
        """)
    assert graph.node("r.0.reshape").op.shape == [4, 16]
    assert graph.node("r.1.reshape").op.shape == [4, 16]


def test_block_params_use_spec_params_and_defaults():
    graph = graph_of(RESIDUAL, """\
        params: {width: 16}
        model:
          - {block: residual, name: res, channels: "${width * 2}"}
        """)
    conv = graph.node("res.conv1").op
    assert (conv.out_channels, conv.stride) == (32, 1)


def test_layer_names_may_be_interpolated():
    graph = graph_of("""\
        params: {d: 32}
        inputs: {x: {shape: [16]}}
        model:
          - {op: linear, name: "proj_${d}", out_features: "${d}"}
        """)
    assert names(graph) == ["proj_32"]


# --- inputs and references ---------------------------------------------------------------------


def test_multi_input_blocks():
    graph = graph_of("""\
        inputs: {a: {shape: [16]}, b: {shape: [16]}}
        blocks:
          merge:
            inputs: [x, skip]
            layers:
              - {op: linear, out_features: 16}
              - {op: add, inputs: [linear, skip]}
        model:
          - {block: merge, name: m, inputs: [a, b]}
          - {block: merge, name: n, inputs: [m, a]}
        """)
    assert graph.node("m.linear").inputs == ["a"]
    assert graph.node("m.add").inputs == ["m.linear", "b"]
    assert graph.node("n.linear").inputs == ["m.add"]
    assert graph.node("n.add").inputs == ["n.linear", "a"]


def test_multi_input_block_repeat_feeds_the_other_inputs_again():
    graph = graph_of("""\
        inputs: {a: {shape: [16]}, b: {shape: [16]}}
        blocks:
          merge:
            inputs: [x, skip]
            layers:
              - {op: add, inputs: [x, skip]}
        model:
          - {block: merge, name: m, repeat: 2, inputs: [a, b]}
        """)
    assert graph.node("m.0.add").inputs == ["a", "b"]
    assert graph.node("m.1.add").inputs == ["m.0.add", "b"]


def test_qualified_references_into_block_instances():
    graph = graph_of(RESIDUAL, """\
        model:
          - {block: residual, name: layer1, repeat: 2, channels: 8}
          - {op: add, inputs: [layer1.0.bn1, layer1]}
        """)
    assert graph.node("add").inputs == ["layer1.0.bn1", "layer1.1.bn2"]


def test_references_may_point_forward_and_inputs_may_be_named():
    graph = graph_of("""\
        inputs: {x: {shape: [16]}}
        model:
          - {op: relu, name: a, inputs: x}
          - {op: add, name: sum, inputs: [a, b]}
          - {op: tanh, name: b, inputs: a}
        outputs: sum
        """)
    assert graph.node("sum").inputs == ["a", "b"]
    assert names(graph) == ["a", "b", "sum"]  # topological


def test_a_block_cannot_see_the_outer_layers():
    (diagnostic,) = errors_of("""\
        inputs: {x: {shape: [16]}}
        blocks:
          leaky:
            layers:
              - {op: add, inputs: [x, stem]}
        model:
          - {op: linear, name: stem, out_features: 16}
          - {block: leaky}
        """)
    assert diagnostic.code == "DLS301" and "'stem'" in diagnostic.message
    assert (diagnostic.span.line, diagnostic.span.col) == (7, 31)


def test_unknown_reference_suggests_a_close_name():
    (diagnostic,) = errors_of("""\
        inputs: {x: {shape: [16]}}
        model:
          - {op: linear, name: hidden, out_features: 16}
          - {op: add, inputs: [x, hiden]}
        """)
    assert diagnostic.code == "DLS301" and diagnostic.hint == "did you mean 'hidden'?"
    assert diagnostic.span == SourceSpan("s.yaml", 6, 27)


def test_a_reference_to_a_failed_layer_is_not_an_error_of_its_own():
    found = errors_of("""\
        inputs: {x: {shape: [16]}}
        model:
          - {op: lienar, name: fc, out_features: 16}
          - {op: relu, name: act, inputs: fc}
          - {op: add, inputs: [act, fc]}
        outputs: [fc, add]
        """)
    assert [d.code for d in found] == ["DLS104"]


# --- outputs --------------------------------------------------------------------------------


def test_the_default_output_is_the_last_layer():
    graph = graph_of("""\
        inputs: {x: {shape: [16]}}
        model:
          - {op: linear, out_features: 4}
          - {op: softmax}
        """)
    assert graph.inputs == ["x"] and graph.outputs == ["softmax"]


def test_explicit_outputs():
    body = """\
        inputs: {x: {shape: [16]}}
        model:
          - {op: linear, name: features, out_features: 8}
          - {op: linear, name: logits, out_features: 4}
        outputs: OUT
        """
    assert graph_of(body.replace("OUT", "[logits, features]")).outputs == ["logits", "features"]
    assert graph_of(body.replace("OUT", "features")).outputs == ["features"]


def test_an_output_may_name_a_block_instance_or_a_layer_in_it():
    graph = graph_of(RESIDUAL, """\
        model:
          - {block: residual, name: layer1, repeat: 2, channels: 8}
          - {op: global_avg_pool2d}
        outputs: [global_avg_pool2d, layer1, layer1.0.bn1]
        """)
    assert graph.outputs == ["global_avg_pool2d", "layer1.1.bn2", "layer1.0.bn1"]


def test_unknown_output():
    (diagnostic,) = errors_of("""\
        inputs: {x: {shape: [16]}}
        model:
          - {op: linear, name: logits, out_features: 4}
        outputs: [logits, logit]
        """)
    assert diagnostic.code == "DLS305" and diagnostic.hint == "did you mean 'logits'?"
    assert (diagnostic.span.line, diagnostic.span.col) == (6, 19)


# --- warnings -------------------------------------------------------------------------------


def test_unused_layers_and_inputs_are_warnings():
    graph = infer_shapes(graph_of("""\
        inputs: {x: {shape: [16]}, unused_input: {shape: [3]}}
        model:
          - {op: linear, name: dead_end, out_features: 8, inputs: x}
          - {op: linear, name: logits, out_features: 4, inputs: x}
        """))
    warnings = unused_layers(graph)
    assert [(w.code, w.severity) for w in warnings] == [("DLS304", "warning")] * 2
    assert sorted(w.message for w in warnings) == [
        "the output of input 'unused_input' is never used",
        "the output of layer 'dead_end' is never used"]
    dead_end = next(w for w in warnings if "dead_end" in w.message)
    assert (dead_end.span.line, dead_end.span.col) == (5, 5)
    assert dead_end.format().startswith("s.yaml:5:5: warning DLS304: ")


def test_outputs_are_used():
    graph = infer_shapes(graph_of("""\
        inputs: {x: {shape: [16]}}
        model:
          - {op: linear, name: a, out_features: 8}
          - {op: linear, name: b, out_features: 4, inputs: x}
        outputs: [a, b]
        """))
    assert unused_layers(graph) == []


# --- errors ---------------------------------------------------------------------------------


def test_several_inputs_need_named_inputs_for_the_first_layer_only():
    found = errors_of("""\
        inputs: {a: {shape: [16]}, b: {shape: [16]}}
        model:
          - {op: linear, out_features: 16}
          - {op: relu}
        """)
    assert [(d.code, d.span.line, d.span.col) for d in found] == [("DLS301", 5, 5)]
    assert found[0].hint == "name one with `inputs: <input name>`"


def test_several_inputs_then_named_first_layer_is_fine():
    graph = graph_of("""\
        inputs: {a: {shape: [16]}, b: {shape: [16]}}
        model:
          - {op: concat, inputs: [a, b]}
          - {op: relu}
        """)
    assert graph.node("relu").inputs == ["concat"]


@pytest.mark.parametrize("item, code", [
    ("{block: residual, name: r, channels: 8, repeat: 0}", "DLS102"),
    ("{block: residual, name: r, channels: 8, repeat: 1.5}", "DLS102"),
    ("{block: residual, name: r, channels: eight}", "DLS102"),
    ("{block: residual, name: r}", "DLS103"),
    ("{block: residual, name: r, channels: 8, stridee: 2}", "DLS101"),
    ("{block: resdual, name: r, channels: 8}", "DLS105"),
    ("{block: residual, name: r, channels: 8, inputs: [image, image]}", "DLS203"),
    ('{block: residual, name: r, channels: "${chanels}"}', "DLS111"),
    ('{block: residual, name: r, channels: 8, repeat: "${1 / 0}"}', "DLS112"),
    ("{op: relu, inputs: 3}", "DLS102"),
    ("{op: relu, name: 3}", "DLS102"),
    ("{op: relu, name: [a, b]}", "DLS102"),
    ('{op: relu, name: "r_${nope}"}', "DLS111"),
    ("[relu]", "DLS102"),
])
def test_block_call_and_layer_errors(item, code):
    found = errors_of(RESIDUAL, f"model:\n  - {item}\n")
    assert [d.code for d in found] == [code], [d.format() for d in found]
    assert found[0].span.line == 14


def test_a_block_that_uses_itself_is_refused():
    found = errors_of("""\
        inputs: {x: {shape: [16]}}
        blocks:
          loop:
            layers: [{block: loop}]
        model:
          - {block: loop}
        """)
    assert [d.code for d in found] == ["DLS102"] and "nest deeper" in found[0].message


def test_nested_blocks():
    graph = graph_of("""\
        inputs: {x: {shape: [16]}}
        blocks:
          inner:
            params: {n: int}
            layers: [{op: linear, name: fc, out_features: "${n}"}]
          outer:
            params: {n: int}
            layers:
              - {block: inner, name: a, n: "${n}"}
              - {block: inner, name: b, n: "${2 * n}"}
        model:
          - {block: outer, name: o, n: 4}
        """)
    assert names(graph) == ["o.a.fc", "o.b.fc"]
    assert graph.node("o.b.fc").op.out_features == 8
    assert graph.node("o.b.fc").inputs == ["o.a.fc"]


def test_duplicate_names_and_cycles():
    found = errors_of("""\
        inputs: {x: {shape: [16]}}
        model:
          - {op: linear, name: a, out_features: 16}
          - {op: relu, name: a}
          - {op: relu, inputs: c}
        """)
    assert [(d.code, d.span.line, d.span.col) for d in found] == [
        ("DLS303", 6, 22), ("DLS301", 7, 24)]
    (cycle,) = errors_of("""\
        inputs: {x: {shape: [16]}}
        model:
          - {op: linear, name: a, out_features: 16, inputs: [c]}
          - {op: relu, name: b}
          - {op: relu, name: c}
        """)
    assert cycle.code == "DLS302" and cycle.message == "layers form a cycle: a -> b -> c -> a"


def test_block_layer_errors_point_into_the_block():
    (diagnostic,) = errors_of(RESIDUAL.replace("name: bn1}", "name: bn1, momentum: 2}"), """\
        model:
          - {block: residual, name: res, channels: 8}
        """)
    assert diagnostic.code == "DLS102" and diagnostic.layer == "res.bn1"
    assert (diagnostic.span.line, diagnostic.span.col) == (9, 48)


def test_overrides_reach_the_model():
    graph = graph_of("""\
        params: {hidden: 8}
        inputs: {x: {shape: [16]}}
        model:
          - {op: linear, name: fc, out_features: "${hidden}"}
        """, overrides=["hidden=5"])
    assert graph.node("fc").op.out_features == 5

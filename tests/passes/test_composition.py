"""Composition while lowering: `when`, `a ?? b` references, inline groups, expressions that
read tensor types (`${x.channels}`, `${in.features}`), and `--set` on block params."""

from __future__ import annotations

import textwrap

import pytest

from dlspec.errors import DlspecError
from dlspec.passes.infer_shapes import infer_shapes
from dlspec.passes.lower import lower
from dlspec.spec.load import load_text

BLOCK = """\
dlspec: 1
name: t
inputs: {image: {shape: [4, 8, 8]}}
blocks:
  basic:
    params: {out: int, stride: 1}
    layers:
      - {op: conv2d, name: conv, out_channels: "${out}", kernel_size: 3, stride: "${stride}", padding: 1}
      - name: downsample
        when: "${stride != 1 or x.channels != out}"
        inputs: x
        layers:
          - {op: conv2d, out_channels: "${out}", kernel_size: 1, stride: "${stride}"}
          - {op: batchnorm2d}
      - {op: add, inputs: [conv, downsample ?? x]}
"""


def graph_of(text: str, overrides=()):
    return infer_shapes(lower(load_text(textwrap.dedent(text), "s.yaml", overrides)))


def errors_of(text: str, overrides=()) -> list[tuple[str, int, int, str]]:
    with pytest.raises(DlspecError) as caught:
        graph_of(text, overrides)
    return [(d.code, d.span.line, d.span.col, d.message) for d in caught.value.diagnostics]


def test_when_skips_a_group_and_the_fallback_is_used():
    graph = graph_of(BLOCK + """\
model:
  - {block: basic, name: same, out: 4}
  - {block: basic, name: wider, out: 6, stride: 2}
""")
    names = [n.name for n in graph.layers()]
    assert "same.downsample.conv2d" not in names  # 4 channels in, 4 out, stride 1
    assert graph.node("same.add").inputs == ["same.conv", "image"]
    assert names[names.index("wider.conv") + 1:] == [
        "wider.downsample.conv2d", "wider.downsample.batchnorm2d", "wider.add"]
    assert graph.node("wider.add").inputs == ["wider.conv", "wider.downsample.batchnorm2d"]
    assert str(graph.node("wider.add").type) == "(N, 6, 4, 4)"


def test_a_skipped_layer_cannot_be_used_without_a_fallback():
    text = BLOCK.replace("downsample ?? x", "downsample") + "model:\n  - {block: basic, out: 4}\n"
    [(code, line, column, message)] = errors_of(text)
    assert (code, line, column) == ("DLS306", 15, 34)
    assert message == "layer 'downsample' is skipped here (its `when` is false)"


def test_when_must_be_a_boolean():
    text = BLOCK.replace('"${stride != 1 or x.channels != out}"', '"${out}"')
    [(code, line, column, message)] = errors_of(text + "model:\n  - {block: basic, out: 4}\n")
    assert (code, line, column) == ("DLS102", 10, 15)
    assert message == "`when` must be true or false, got 4"


def test_expressions_read_the_input_types():
    graph = graph_of("""\
        dlspec: 1
        name: t
        inputs: {x: {shape: [seq, 12]}}
        model:
          - {op: linear, name: a, out_features: "${x.features // 2}"}
          - {op: linear, name: b, out_features: "${in.features * 3}"}
          - {op: linear, name: c, out_features: "${x.rank + a.features}"}  # rank counts N
        """)
    assert [graph.node(n).type.shape[-1] for n in ("a", "b", "c")] == [6, 18, 9]


def test_a_later_layer_dims_are_not_known():
    [(code, _, _, message)] = errors_of("""\
        dlspec: 1
        name: t
        inputs: {x: {shape: [12]}}
        model:
          - {op: linear, name: a, out_features: "${b.features}"}
          - {op: linear, name: b, out_features: 3}
        """)
    assert (code, message) == ("DLS111", "the shape of 'b' is not known here")


def test_group_keys_are_checked():
    text = BLOCK.replace("        inputs: x\n", "        inputs: x\n        repeat: 2\n")
    [(code, line, _, message)] = errors_of(text + "model:\n  - {block: basic, out: 6}\n")
    assert (code, line, message) == ("DLS101", 12, "unknown key 'repeat' in a group of layers")


def test_set_reaches_block_params():
    model = "model:\n  - {block: basic, out: 4}\n"
    default = graph_of(BLOCK + model)
    assert default.node("basic.conv").op.stride == 1
    for override in ("stride=2", "basic.stride=2"):
        graph = graph_of(BLOCK + model, [override])
        assert graph.node("basic.conv").op.stride == 2
        assert "basic.downsample.conv2d" in graph  # the `when` sees the new default
    [(code, _, _, message)] = errors_of(BLOCK + model, ["strid=2"])
    assert (code, message) == ("DLS120", "'strid' is neither a section, a param nor a block param")


def test_one_mistake_in_a_block_is_reported_once_for_all_its_instances():
    [(code, line, _, message)] = errors_of("""\
        dlspec: 1
        name: t
        inputs: {x: {shape: [4, 8]}}
        blocks:
          b:
            layers:
              - {op: linear, out_features: 3, in_features: 5}
        model:
          - {block: b, name: p, inputs: x}
          - {block: b, name: q, inputs: x}
          - {block: b, name: r, inputs: x}
          - {op: concat, inputs: [p, q, r]}
        """)
    assert (code, line) == ("DLS201", 7)
    assert message == ("input has 8 features but in_features=5 was given (also in q.linear, "
                       "r.linear)")


@pytest.mark.parametrize("name", ["code", "forward", "training", "class"])
def test_layer_names_the_torch_module_has_are_refused(name):
    [(code, line, column, message)] = errors_of(f"""\
        dlspec: 1
        name: t
        inputs: {{x: {{shape: [4]}}}}
        model:
          - {{op: linear, name: {name}, out_features: 3}}
        """)
    assert (code, line, column) == ("DLS102", 5, 24)
    assert message.startswith(f"layer name '{name}' is taken")


def test_expressions_index_a_tensor_shape_resolved_by_shape_inference():
    graph = graph_of("""\
        dlspec: 1
        name: t
        inputs: {image: {shape: [3, 12, 8]}}
        model:
          - {op: conv2d, name: c, out_channels: 4, kernel_size: 3, stride: 2, padding: 1}
          - {op: avgpool2d, name: whole, kernel_size: "${c.shape[1:]}"}
          - {op: flatten}
          - {op: linear, out_features: "${image.shape[1] * image.shape[-1]}"}
        """)
    assert graph.node("whole").op.kernel_size == (6, 4)
    assert str(graph.node("whole").type) == "(N, 4, 1, 1)"
    assert str(graph.node("linear").type) == "(N, 96)"


def test_a_symbolic_dim_read_as_a_number_is_a_located_error():
    [(code, line, column, message)] = errors_of("""\
        dlspec: 1
        name: t
        inputs: {ids: {shape: [seq, 16]}}
        model:
          - {op: linear, out_features: "${ids.shape[0]}"}
        """)
    assert (code, line, column) == ("DLS112", 5, 32)
    assert message == ("'ids.shape[0]' is the symbolic dim 'seq', whose size is known only "
                       "at run time; an expression needs a number")

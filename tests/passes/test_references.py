"""dlspec.passes.references: conditional outputs (an output whose layer's `when` is false
leaves the model) and references to layers inside a skipped group or block."""

from __future__ import annotations

import textwrap

import pytest

from dlspec.errors import DlspecError
from dlspec.passes.infer_shapes import infer_shapes
from dlspec.passes.lower import lower
from dlspec.spec.load import load_text

SPEC = """\
dlspec: 1
name: t
params: {aux_logits: true}
inputs: {x: {shape: [8]}}
model:
  - {op: linear, name: trunk, out_features: 8}
  - name: aux
    when: "${aux_logits}"
    layers:
      - {op: relu}
      - {op: linear, name: fc, out_features: 3}
  - {op: linear, name: fc, inputs: trunk, out_features: 3}
"""


def graph_of(text: str, overrides=()):
    return infer_shapes(lower(load_text(textwrap.dedent(text), "s.yaml", overrides)))


def errors_of(text: str, overrides=()):
    with pytest.raises(DlspecError) as caught:
        graph_of(text, overrides)
    return [(d.code, d.span.line, d.span.col, d.message, d.hint)
            for d in caught.value.diagnostics]


@pytest.mark.parametrize("outputs", ["[fc, aux]", "[fc, aux.fc]", "[aux.fc, fc]"])
def test_turning_the_aux_head_off_removes_its_output(outputs):
    text = SPEC + f"outputs: {outputs}\n"
    on = graph_of(text)
    assert sorted(on.outputs) == ["aux.fc", "fc"]
    assert [str(on.node(o).type) for o in on.outputs] == ["(N, 3)", "(N, 3)"]
    off = graph_of(text, ["aux_logits=false"])
    assert off.outputs == ["fc"]
    assert not [n.name for n in off.layers() if n.name.startswith("aux")]


def test_an_output_of_a_skipped_block_instance_is_removed_too():
    text = SPEC.replace("model:\n", "blocks:\n  head: {layers: [{op: linear, name: fc, "
                        "out_features: 3}]}\nmodel:\n") + \
        '  - {block: head, name: aux2, repeat: 2, inputs: trunk, when: "${aux_logits}"}\n' + \
        "outputs: [fc, aux2.0, aux2]\n"
    assert graph_of(text).outputs == ["fc", "aux2.0.fc", "aux2.1.fc"]
    assert graph_of(text, ["aux_logits=false"]).outputs == ["fc"]


def test_a_fallback_keeps_an_output():
    graph = graph_of(SPEC + "outputs: [fc, aux ?? trunk]\n", ["aux_logits=false"])
    assert graph.outputs == ["fc", "trunk"]


def test_a_model_needs_one_output_left():
    [(code, line, column, message, hint)] = errors_of(
        SPEC + "outputs: [aux, aux.fc]\n", ["aux_logits=false"])
    assert (code, line, column) == ("DLS305", 13, 10)
    assert message == ("every output of the model is skipped (aux, aux.fc: their `when` is "
                       "false)")
    assert hint == "keep one output without a `when`, e.g. the classifier"


def test_a_layer_in_a_skipped_group_is_skipped_for_its_users():
    text = SPEC + "  - {op: add, inputs: [fc, aux.fc]}\n"
    [(code, line, column, message, hint)] = errors_of(text, ["aux_logits=false"])
    assert (code, line, column) == ("DLS306", 13, 28)
    assert message == "layer 'aux' is skipped here (its `when` is false)"
    graph = graph_of(text.replace("aux.fc]", "aux.fc ?? fc]"), ["aux_logits=false"])
    assert graph.node("add").inputs == ["fc", "fc"]


INSIDE = """\
dlspec: 1
name: t
inputs: {x: {shape: [8]}}
blocks:
  head:
    inputs: [x, {skip: null}]
    layers:
      - {op: linear, name: fc, out_features: 8}
      - {op: add, name: merge, inputs: [fc, skip], when: "${skip != null}"}
      - {op: relu, inputs: merge ?? fc}
model:
  - {op: linear, name: trunk, out_features: 8}
  - {block: head, name: plain, inputs: trunk}
  - {block: head, name: joined, inputs: [plain, trunk]}
"""


def test_a_layer_skipped_inside_a_block_instance_is_skipped_for_users_outside_it():
    """`plain.merge` (its `when` false in that instance only) is a skipped layer, not an
    unknown one: a reference to it is DLS306, a fallback takes over, an output is left out;
    `joined.merge`, kept in the other instance, is an ordinary layer."""
    [(code, line, column, message, hint)] = errors_of(
        INSIDE + "  - {op: relu, name: out, inputs: plain.merge}\n")
    assert (code, line, column) == ("DLS306", 15, 35)
    assert message == "layer 'plain.merge' is skipped here (its `when` is false)"
    assert hint == "fall back to another layer: `plain.merge ?? x`"
    fallback = graph_of(INSIDE + "  - {op: relu, name: out, inputs: plain.merge ?? plain.fc}\n")
    assert fallback.node("out").inputs == ["plain.fc"]
    graph = graph_of(INSIDE + "outputs: [joined, plain.merge, joined.merge]\n")
    assert graph.outputs == ["joined.relu", "joined.merge"]

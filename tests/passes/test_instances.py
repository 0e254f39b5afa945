"""dlspec.passes.instances: a repeated block's instance by name (`inception4.0`), and hints
that point at the right instance when a name misses."""

from __future__ import annotations

import textwrap

import pytest

from dlspec.errors import DlspecError
from dlspec.passes.infer_shapes import infer_shapes
from dlspec.passes.lower import lower
from dlspec.spec.load import load_text

HEAD = """\
dlspec: 1
name: t
inputs: {image: {shape: [4, 8, 8]}}
blocks:
  inception:
    params: {out: int}
    layers:
      - {op: conv2d, name: conv, out_channels: "${out}", kernel_size: 3, padding: 1}
      - {op: relu, name: act}
  single:
    layers:
      - {op: relu, name: act}
model:
  - {block: inception, name: inception4, repeat: 3, out: [4, 6, 8]}
  - {block: single, name: stem}
"""


def graph_of(*items: str, outputs: str = ""):
    text = HEAD + "".join(f"  - {item}\n" for item in items) + outputs
    return infer_shapes(lower(load_text(text, "s.yaml")))


def only_error(item: str) -> tuple[str, int, int, str, str | None]:
    with pytest.raises(DlspecError) as caught:
        graph_of(item)
    [d] = caught.value.diagnostics
    return d.code, d.span.line, d.span.col, d.message, d.hint


def test_an_instance_name_is_that_instance_output():
    graph = graph_of("{op: global_avg_pool2d, name: aux1, inputs: inception4.0}",
                     "{op: global_avg_pool2d, name: aux2, inputs: inception4.1}",
                     "{op: global_avg_pool2d, name: last, inputs: inception4}",
                     outputs="outputs: [aux1, aux2, last, inception4.0]\n")
    assert graph.node("aux1").inputs == ["inception4.0.act"]
    assert graph.node("aux2").inputs == ["inception4.1.act"]
    assert graph.node("last").inputs == ["inception4.2.act"]
    assert [str(graph.node(n).type) for n in ("aux1", "aux2", "last")] == [
        "(N, 4)", "(N, 6)", "(N, 8)"]
    assert graph.outputs == ["aux1", "aux2", "last", "inception4.0.act"]


def test_instances_of_a_nested_repeat_are_named_from_the_outside():
    text = textwrap.dedent("""\
        dlspec: 1
        name: t
        inputs: {x: {shape: [4]}}
        blocks:
          unit: {layers: [{op: linear, name: fc, out_features: 4}]}
          stage: {layers: [{block: unit, name: units, repeat: 2}]}
        model:
          - {block: stage, name: stages, repeat: 2}
          - {op: add, inputs: [stages.0.units.1, stages.1.units.0]}
        """)
    graph = lower(load_text(text, "s.yaml"))
    assert graph.node("add").inputs == ["stages.0.units.1.fc", "stages.1.units.0.fc"]


@pytest.mark.parametrize(("reference", "hint"), [
    # instances count from 0: the fourth of three is one past the last
    ("inception4.3", "did you mean 'inception4.2'? ('inception4' has 3 instances, numbered "
                     "from 0: inception4.0 to inception4.2)"),
    ("inception4.7", "'inception4' has 3 instances, numbered from 0: inception4.0 to "
                     "inception4.2"),
    # the paper's and torchvision's letters: 4a, 4b, ... are instances 0, 1, ...
    ("inception4b", "did you mean 'inception4.1'? (letters count from a, instances from 0; "
                    "'inception4' has 3 instances, numbered from 0: inception4.0 to "
                    "inception4.2)"),
    ("inception4_c.conv", "did you mean 'inception4.2.conv'? (letters count from a, instances "
                          "from 0; 'inception4' has 3 instances, numbered from 0: inception4.0 "
                          "to inception4.2)"),
    # a layer inside an instance that exists
    ("inception4.1.actt", "did you mean 'inception4.1.act'?"),
    # a block used once has no numbered instances
    ("stem.0.act", "did you mean 'stem.act'? ('stem' is a single instance, without `repeat`: "
                   "its layers are stem.<layer>)"),
    ("inceptoin4.0", "did you mean 'inception4.0'?"),
])
def test_a_wrong_instance_name_gets_a_hint_at_the_right_one(reference, hint):
    item = f"{{op: global_avg_pool2d, inputs: {reference}}}"
    code, line, column, message, got = only_error(item)
    assert (code, line, column) == ("DLS301", 16, 37)
    assert message.startswith(f"unknown layer or input '{reference}'")
    assert got == hint


def test_a_call_whose_name_ends_in_a_letter_is_not_taken_for_an_instance():
    """`inception4a.act` names the layer act of a call inception4a, which exists: a close
    name inside it is suggested, not inception4.0.act."""
    _, _, _, _, hint = only_error("{block: single, name: inception4a, inputs: image}\n"
                                  "  - {op: global_avg_pool2d, inputs: inception4a.actt}")
    assert hint == "did you mean 'inception4a.act'?"


def test_a_name_inside_a_group_or_call_is_suggested():
    _, _, _, _, hint = only_error("{name: head, layers: [{block: single, name: unit}]}\n"
                                  "  - {op: global_avg_pool2d, inputs: head.units}")
    assert hint == "did you mean 'head.unit'?"


def test_a_letter_past_the_instances_is_not_taken_for_one():
    _, _, _, _, hint = only_error("{op: global_avg_pool2d, inputs: inception4z}")
    assert hint == "did you mean 'inception4'?"


def test_an_unknown_output_gets_the_same_hint():
    with pytest.raises(DlspecError) as caught:
        graph_of(outputs="outputs: [inception4a, inception4.3]\n")
    found = [(d.code, d.message, d.hint) for d in caught.value.diagnostics]
    numbered = "'inception4' has 3 instances, numbered from 0: inception4.0 to inception4.2"
    assert found == [
        ("DLS305", "unknown output 'inception4a'", "did you mean 'inception4.0'? (letters "
         f"count from a, instances from 0; {numbered})"),
        ("DLS305", "unknown output 'inception4.3'", f"did you mean 'inception4.2'? ({numbered})")]

"""dlspec.passes.blocks: block calls that are not names, and the layer budget of a model
(dlspec/spec/limits.py MAX_LAYERS), checked before a repeat's other instances expand."""

from __future__ import annotations

import pytest

from dlspec.errors import SourceSpan, SpecError
from dlspec.passes.lower import lower
from dlspec.spec.limits import MAX_LAYERS
from dlspec.spec.load import load_text

HEAD = """\
dlspec: 1
name: t
inputs: {x: {shape: [8]}}
blocks:
  pair: {params: {on: true}, layers: [{op: relu}, {op: tanh, when: "${on}"}]}
model:
"""


def lowered(*items: str):
    return lower(load_text(HEAD + "".join(f"  - {item}\n" for item in items), "s.yaml"))


def only_error(*items: str):
    with pytest.raises(SpecError) as caught:
        lowered(*items)
    (diagnostic,) = caught.value.diagnostics
    return diagnostic


@pytest.mark.parametrize(("item", "message", "hint"), [
    ("{block: {a: 1}}", "`block` is the name of a block, got {'a': 1}",
     "define the block under `blocks:`"),
    ("{block: [pair]}", "`block` is the name of a block, got ['pair']", "write `block: pair`"),
    ("{block: 3}", "`block` is the name of a block, got 3", "define the block under"),
])
def test_a_block_that_is_not_a_name_is_a_located_error(item, message, hint):
    diagnostic = only_error(item)
    assert (diagnostic.code, diagnostic.message) == ("DLS102", message)
    assert diagnostic.span == SourceSpan("s.yaml", 7, 13) and hint in diagnostic.hint


@pytest.mark.parametrize(("item", "hint"), [
    ("{op: [linear], out_features: 2}", "write `op: linear`"),
    ("{op: {linear: 2}}", "e.g. `op: linear`"),
])
def test_an_op_that_is_not_a_name_is_a_located_error(item, hint):
    diagnostic = only_error(item)
    assert diagnostic.code == "DLS102" and diagnostic.message.startswith(
        "`op` is the name of one op, got ")
    assert diagnostic.span == SourceSpan("s.yaml", 7, 10) and hint in diagnostic.hint
    assert diagnostic.layer == "layer"  # (not a name made of the list's repr)


def test_a_repeat_is_refused_before_its_other_instances_expand():
    repeat = MAX_LAYERS // 2  # 2 layers each, and the call itself: just over the limit
    diagnostic = only_error(f"{{block: pair, repeat: {repeat}}}")
    assert diagnostic.code == "DLS102" and diagnostic.span == SourceSpan("s.yaml", 7, 27)
    assert diagnostic.message == (
        f"`repeat: {repeat}` of block 'pair' (2 layers each) would make the model about "
        f"{1 + 2 * repeat:_} layers; a model has at most {MAX_LAYERS:_}")


def test_a_repeat_just_within_the_limit_expands():
    repeat = (MAX_LAYERS - 1) // 2
    graph = lowered(f"{{block: pair, repeat: {repeat}}}")
    assert len(graph.layers()) == 2 * repeat


def test_skipped_layers_count_towards_the_limit():
    """A `when: false` layer costs work too: a repeat of skipped layers is bounded."""
    repeat = MAX_LAYERS // 2
    diagnostic = only_error(f"{{block: pair, repeat: {repeat}, on: false}}")
    assert "(2 layers each)" in diagnostic.message


def test_a_long_list_of_layers_stops_at_the_limit_with_one_error():
    diagnostic = only_error(*["{op: relu}"] * (MAX_LAYERS + 50))
    assert diagnostic.code == "DLS102"
    assert diagnostic.span == SourceSpan("s.yaml", 7 + MAX_LAYERS, 5)
    assert diagnostic.message.startswith(f"the model expands to more than {MAX_LAYERS:_} layers")

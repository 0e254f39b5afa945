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


# --- optional block inputs ---------------------------------------------------------------

OPTIONAL = """\
dlspec: 1
name: t
inputs: {a: {shape: [4, 8, 8]}, b: {shape: [4, 8, 8]}}
blocks:
  up:
    inputs: [x, {skip: null}]                # skip may be left out
    layers:
      - {op: conv2d, name: conv, out_channels: 4, kernel_size: 3, padding: 1}
      - {op: add, name: merge, when: "${skip != null}", inputs: [conv, skip]}
      - {op: relu, inputs: merge ?? conv}
  res:
    inputs: [x, {shortcut: x}]               # shortcut defaults to x
    layers:
      - {op: conv2d, name: conv, out_channels: 4, kernel_size: 3, padding: 1}
      - {op: add, inputs: [conv, shortcut]}
model:
"""


def optional(*items: str, outputs: str = "outputs: [u1, u2, r1, r2]\n"):
    return lower(load_text(OPTIONAL + "".join(f"  - {i}\n" for i in items) + outputs,
                           "s.yaml"))


def optional_errors(*items: str, blocks: tuple[str, str] = ("", "")):
    text = OPTIONAL.replace(*blocks) if blocks[0] else OPTIONAL
    with pytest.raises(SpecError) as caught:
        lower(load_text(text + "".join(f"  - {i}\n" for i in items), "s.yaml"))
    return [(d.code, d.span.line, d.span.col, d.message, d.hint)
            for d in caught.value.diagnostics]


def test_an_optional_input_may_be_left_out():
    graph = optional("{block: up, name: u1, inputs: a}", "{block: up, name: u2, inputs: [u1, b]}",
                     "{block: res, name: r1}", "{block: res, name: r2, inputs: [r1, a]}")
    inputs = {n.name: n.inputs for n in graph.layers()}
    assert "u1.merge" not in inputs and inputs["u1.relu"] == ["u1.conv"]
    assert inputs["u2.merge"] == ["u2.conv", "b"] and inputs["u2.relu"] == ["u2.merge"]
    assert inputs["r1.add"] == ["r1.conv", "u2.relu"]  # the default: x
    assert inputs["r2.add"] == ["r2.conv", "a"]


def test_a_repeat_keeps_the_optional_inputs_of_its_call():
    graph = optional("{block: up, name: u, repeat: 2, inputs: [a, b]}",
                     "{block: up, name: v, repeat: 2, inputs: a}", outputs="outputs: [u, v]\n")
    inputs = {n.name: n.inputs for n in graph.layers()}
    assert inputs["u.1.merge"] == ["u.1.conv", "b"] and "v.1.merge" not in inputs


def test_an_unconnected_input_needs_a_fallback():
    [(code, line, column, message, hint)] = optional_errors(
        "{block: up, name: u1, inputs: a}", "{block: up, name: u2, inputs: [u1, b]}",
        blocks=("inputs: [conv, skip]}",
                "inputs: [conv, skip]}\n      - {op: add, inputs: [conv, skip]}"))
    assert (code, line, column) == ("DLS306", 10, 34)
    assert message == "block input 'skip' is not connected in 'u1' (the call leaves it out)"
    assert hint == ('fall back to another layer: `skip ?? x`, or keep this layer only where it '
                    'is connected: when: "${skip != null}"')


def test_an_unconnected_input_reads_as_null_in_expressions():
    [(code, line, column, message, hint)] = optional_errors(
        "{block: up, name: u1, inputs: a}",
        blocks=("kernel_size: 3, padding: 1}\n      - {op: add, name: merge",
                "kernel_size: 3, padding: 1}\n      - {op: linear, out_features: "
                "\"${skip.features}\"}\n      - {op: add, name: merge"))
    assert (code, line) == ("DLS112", 9)
    assert message == "'skip' is null: it has no field 'features'"
    assert hint == ("a block input that the call leaves out is null; test it first: "
                    "`skip.features if skip != null else ...`")


def test_a_wrong_optional_input_that_a_when_reads_is_named_at_the_call():
    """`when: "${skip != null}"` reads the input before any layer resolves it; a misspelt
    or skipped layer given for it is said once at the call (it was lost, and the block's
    last layer said it got no input)."""
    errors = optional_errors("{block: up, name: u1, inputs: [a, bb]}",
                             "{op: relu, name: gone, when: \"${false}\"}",
                             "{block: up, name: u2, inputs: [u1, gone]}",
                             "{block: up, name: u3, inputs: [u2, bb]}")
    assert [e[:3] for e in errors] == [("DLS301", 17, 39), ("DLS306", 19, 40),
                                       ("DLS301", 20, 40)]
    assert errors[0][3] == "unknown layer or input 'bb'" and "b" in errors[0][4]
    assert errors[1][3] == "layer 'gone' is skipped here (its `when` is false)"


def test_a_call_gives_the_required_inputs_and_at_most_the_optional_ones():
    [(code, line, column, message, _)] = optional_errors("{block: res, name: r, inputs: [a, b, a]}")
    assert (code, line, column) == ("DLS203", 17, 5)
    assert message == "block 'res' takes 1 to 2 inputs (x, shortcut: optional), got 3"


@pytest.mark.parametrize(("declared", "message"), [
    ("[{shortcut: null}, x]", "input 'x' is required but follows an optional one (a call gives "
                              "its inputs in order: list the optional ones last)"),
    ("[x, {shortcut: y}]", "the default of input 'shortcut' must be an earlier input of this "
                           "block (x), or null for none"),
    ("[x, {shortcut: x, y: null}]", "an input is a name (x), or {name: default} for an optional "
                                    "one, got {'shortcut': 'x', 'y': None}"),
    ("[x, x]", "input 'x' is named twice"),
])
def test_optional_inputs_are_declared_after_the_required_ones(declared, message):
    [(code, line, column, got, _)] = optional_errors(
        "{block: res}", blocks=("inputs: [x, {shortcut: x}]", f"inputs: {declared}"))
    assert (code, line, column) == ("DLS102", 12, 13)
    assert got == f"'inputs': {message}"


@pytest.mark.parametrize("key", ["init", "tie"])
def test_init_and_tie_on_a_block_call_are_refused_not_dropped(key):
    value = "{weight: zeros}" if key == "init" else "stem"
    diagnostic = only_error(f"{{block: pair, name: p, {key}: {value}}}")
    assert (diagnostic.code, diagnostic.span) == ("DLS102", SourceSpan("s.yaml", 7, 28))
    assert diagnostic.message == f"`{key}` applies to a layer, not to a block call"
    assert diagnostic.hint.startswith(f"give `{key}` to the layers inside block 'pair'")

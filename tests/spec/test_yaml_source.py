"""dlspec.spec.yaml_source: YAML 1.2 scalars, source positions, and every located rejection."""

from __future__ import annotations

import math

import pytest

from dlspec.errors import SourceSpan, SpecError
from dlspec.spec.yaml_source import MAX_BYTES, MAX_DEPTH, read_yaml, resolve_scalar


def value_of(text: str):
    return read_yaml(text, "s.yaml")[0]


def rejection(text: str) -> list[tuple[str, int, int]]:
    """(code, line, col) of every problem reported for `text`."""
    with pytest.raises(SpecError) as caught:
        read_yaml(text, "s.yaml")
    assert all(d.span.file == "s.yaml" for d in caught.value.diagnostics)
    return [(d.code, d.span.line, d.span.col) for d in caught.value.diagnostics]


def only_error(text: str):
    with pytest.raises(SpecError) as caught:
        read_yaml(text, "s.yaml")
    (diagnostic,) = caught.value.diagnostics
    return diagnostic


# --- scalars ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("1e-3", 0.001), ("3e2", 300.0), ("-2.5E+1", -25.0), ("1.", 1.0), (".5", 0.5),
    ("0x10", 16), ("0xFF", 255), ("0o17", 15), ("+12", 12), ("-7", -7), ("0", 0),
    ("true", True), ("False", False), ("TRUE", True),
    ("~", None), ("null", None), ("NULL", None), ("", None),
])
def test_yaml_1_2_core_scalars(text, expected):
    value = resolve_scalar(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text, expected", [(".inf", math.inf), ("-.Inf", -math.inf),
                                            ("+.INF", math.inf)])
def test_infinities(text, expected):
    assert resolve_scalar(text) == expected


def test_nan():
    assert math.isnan(resolve_scalar(".nan"))


@pytest.mark.parametrize("text", ["1_000", "2024-01-01", "0b101", "012x", "1e", "e3", "inf",
                                  "nan", "x", "y", "n", "1.2.3", "0x", "12:30"])
def test_everything_else_is_text(text):
    assert resolve_scalar(text) == text


def test_scalars_inside_a_document():
    data = value_of("lr: 1e-3\nmask: 0x10\nlimit: .inf\nnothing: ~\nempty:\n"
                    "word: \"yes\"\nother: 'off'\ncount: 007\n")
    assert data == {"lr": 0.001, "mask": 16, "limit": math.inf, "nothing": None,
                    "empty": None, "word": "yes", "other": "off", "count": 7}
    assert isinstance(data["lr"], float)


@pytest.mark.parametrize("text", ['v: "1e-3"', "v: '12'", 'v: "true"', 'v: "~"',
                                  "v: |\n  12\n", "v: >\n  12\n"])
def test_quoted_and_block_scalars_are_strings(text):
    assert isinstance(value_of(text)["v"], str)


def test_quoted_ambiguous_words_are_fine():
    assert value_of('a: "yes"\nb: \'no\'\nc: "on"\nd: "OFF"\n') == {
        "a": "yes", "b": "no", "c": "on", "d": "OFF"}


def test_y_and_n_are_plain_text():
    assert value_of("axes: [x, y, n]\n") == {"axes": ["x", "y", "n"]}


def test_empty_documents():
    assert value_of("") is None
    assert value_of("# only a comment\n") is None


def test_nested_structures():
    assert value_of("a:\n  - {b: [1, 2.0, c]}\n  - - 3\n") == {"a": [{"b": [1, 2.0, "c"]}, [3]]}


# --- positions ------------------------------------------------------------------------------


def test_positions_of_keys_and_values():
    text = ("dlspec: 1\n"
            "model:\n"
            "  - {op: linear, out_features: 10}\n"
            "  - op: relu\n"
            "    name: act\n")
    _, source = read_yaml(text, "s.yaml")
    assert source.keys[("dlspec",)] == SourceSpan("s.yaml", 1, 1)
    assert source.values[("dlspec",)] == SourceSpan("s.yaml", 1, 9)
    assert source.values[("model",)] == SourceSpan("s.yaml", 3, 3)
    assert source.values[("model", 0)] == SourceSpan("s.yaml", 3, 5)
    assert source.keys[("model", 0, "out_features")] == SourceSpan("s.yaml", 3, 18)
    assert source.values[("model", 0, "out_features")] == SourceSpan("s.yaml", 3, 32)
    assert source.values[("model", 1)] == SourceSpan("s.yaml", 4, 5)
    assert source.keys[("model", 1, "name")] == SourceSpan("s.yaml", 5, 5)
    assert source.values[("model", 1, "name")] == SourceSpan("s.yaml", 5, 11)


def test_positions_of_list_items_and_quoted_values():
    _, source = read_yaml('shape: [1, 28, 28]\nname: "x y"\n', "s.yaml")
    assert [source.values[("shape", i)].col for i in range(3)] == [9, 12, 16]
    assert source.values[("name",)] == SourceSpan("s.yaml", 2, 7)  # at the opening quote


def test_positions_are_counted_in_characters():
    _, source = read_yaml("description: \"é ü ö\"\nx: 1\ny: [\"ß\", 2]\n", "s.yaml")
    assert source.values[("x",)] == SourceSpan("s.yaml", 2, 4)
    assert source.values[("y", 1)] == SourceSpan("s.yaml", 3, 10)


def test_span_falls_back_to_the_nearest_located_ancestor():
    _, source = read_yaml("train:\n  epochs: 3\n", "s.yaml")
    assert source.span(("train", "seed")) == source.values[("train",)]
    assert source.span(("nowhere", 1, "x")) == source.values[()]
    assert source.key_span(("train", "epochs")) == SourceSpan("s.yaml", 2, 3)
    assert source.key_span(("train", "seed")) == source.values[("train",)]


def test_span_of_an_empty_document_is_the_start():
    _, source = read_yaml("", "s.yaml")
    assert source.span(("anything",)) == SourceSpan("s.yaml", 1, 1)


# --- rejections -----------------------------------------------------------------------------


def test_syntax_error_is_located_with_where_the_construct_started():
    diagnostic = only_error("inputs: {pixels: {shape: [64]}\nmodel: []\n")
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("DLS001", 2, 1)
    assert "did not find expected ',' or '}'" in diagnostic.message
    assert diagnostic.hint == "while parsing a flow mapping that starts at line 1, column 9"


@pytest.mark.parametrize("text, where", [
    ("a: b: c\n", (1, 5)),            # mapping values are not allowed here
    ("a: [1, 2\n", (2, 1)),           # unclosed flow sequence
    ('a: "open\n', (2, 1)),           # unclosed quote
    ("- a\nb: 1\n", (2, 1)),          # a list, then a mapping key
    ("a: 1\n---\nb: 2\n", (2, 1)),    # two documents
])
def test_syntax_errors(text, where):
    assert rejection(text) == [("DLS001", *where)]


def test_tab_indentation_gets_a_hint():
    diagnostic = only_error("a:\n\tb: 1\n")
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("DLS001", 2, 1)
    assert "tab" in diagnostic.hint


@pytest.mark.parametrize("text, where, code", [
    ('dlspec: 1\nparams: {a: "b\x01c"}\n', (2, 15), 0x01),  # inside a quoted string
    ("name: x\x07\n", (1, 8), 0x07),
    ("a: \"\u00e9\u00fc\"\r\nb: \x7f\n", (2, 4), 0x7F),  # after CRLF and two-byte letters
    ("a: 1\nb: '\ud800'\n", (2, 5), 0xD800),  # a lone surrogate
])
def test_a_refused_character_is_reported_at_its_line_and_column(text, where, code):
    diagnostic = only_error(text)
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("DLS001", *where)
    assert diagnostic.message.startswith(f"unacceptable character #x{code:04x}: ")
    assert "position" not in diagnostic.format() and "<unicode string>" not in diagnostic.format()


def test_duplicate_keys_are_each_reported_at_the_second_key():
    text = "a: 1\nb:\n  c: 2\n  c: 3\na: 4\n"
    assert sorted(rejection(text)) == [("DLS002", 4, 3), ("DLS002", 5, 1)]
    with pytest.raises(SpecError) as caught:
        read_yaml(text, "s.yaml")
    assert "duplicate key 'c' (first at line 3)" in str(caught.value)


def test_anchor_is_refused_at_the_anchor():
    diagnostic = only_error("params: &p {hidden: 64}\nother: 1\n")
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("DLS003", 1, 9)
    assert "'&p'" in diagnostic.message


def test_alias_without_anchor_is_refused_at_the_alias():
    diagnostic = only_error("a: 1\nb: *a\n")
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("DLS003", 2, 4)
    assert "'*a'" in diagnostic.message


def test_billion_laughs_is_refused_at_the_first_anchor():
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    assert rejection("\n".join(lines) + "\n") == [("DLS003", 1, 4)]


def test_nesting_up_to_the_limit_is_fine():
    depth = MAX_DEPTH
    assert value_of("[" * depth + "]" * depth) is not None


def test_nesting_past_the_limit_is_refused_at_the_first_too_deep_node():
    depth = MAX_DEPTH + 10
    assert rejection("[" * depth + "]" * depth) == [("DLS004", 1, MAX_DEPTH + 1)]
    block = "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * 70 + "v\n"
    ((code, line, _),) = rejection(block)
    assert (code, line) == ("DLS004", MAX_DEPTH)  # the value of key k(MAX_DEPTH-2)


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "Yes", "NO", "On", "OFF"])
def test_yaml_1_1_booleans_are_ambiguous(word):
    diagnostic = only_error(f"flag: {word}\n")
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("DLS005", 1, 7)
    assert f'"{word}" in quotes' in diagnostic.hint


def test_every_ambiguous_word_is_reported():
    assert rejection("a: yes\nb: [on, off]\nc: {d: no}\n") == [
        ("DLS005", 1, 4), ("DLS005", 2, 5), ("DLS005", 2, 9), ("DLS005", 3, 8)]


@pytest.mark.parametrize("text, col", [
    ("a: !!python/object:os.system x\n", 4),
    ("a: !!python/object/apply:os.system [ls]\n", 4),
    ("a: !custom x\n", 4),
    ("a: !!binary aGk=\n", 4),
    ("a: !!set {x: null}\n", 4),
])
def test_tags_are_refused(text, col):
    diagnostic = only_error(text)
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("DLS006", 1, col)
    assert "is not allowed" in diagnostic.message


def test_python_tag_nested_deep_is_found():
    assert rejection("a:\n  b:\n    - 1\n    - !!python/name:os.system ''\n") == [
        ("DLS006", 4, 7)]


@pytest.mark.parametrize("text, where", [
    ("? [a, b]\n: 1\n", (1, 3)),     # a list as a key
    ("<<: {a: 1}\n", (1, 1)),        # merge key
    ("{[1]: x}\n", (1, 2)),
])
def test_non_text_keys_are_refused(text, where):
    assert rejection(text) == [("DLS006", *where)]


def test_several_problems_are_reported_together():
    text = "a: yes\na: 1\nb: !!python/none ''\nc: off\n"
    assert sorted(rejection(text)) == [("DLS002", 2, 1), ("DLS005", 1, 4), ("DLS005", 4, 4),
                                       ("DLS006", 3, 4)]


def test_huge_files_are_refused_before_parsing():
    assert rejection("#" * (MAX_BYTES + 1)) == [("DLS007", 1, 1)]


def test_explicit_standard_tags_are_honoured():
    """`!!str 5` is the text '5' in YAML; a standard tag must not be silently ignored."""
    assert value_of("a: !!str 5\n") == {"a": "5"}
    assert value_of("a: !!float 1\nb: !!int 0x10\nc: !!str yes\n") == {"a": 1.0, "b": 16,
                                                                     "c": "yes"}
    assert rejection("a: !!int abc\n") == [("DLS006", 1, 4)]


# --- integers fit in 64 bits ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["9223372036854775807", "-9223372036854775808",
                                  "0x7fffffffffffffff", "000000000000000000000000042"])
def test_integers_inside_64_bits_are_read(text):
    expected = int(text, 16) if text.startswith("0x") else int(text)
    assert value_of(f"a: {text}\n") == {"a": expected}


@pytest.mark.parametrize("text", ["9223372036854775808", "-9223372036854775809",
                                  "99999999999999999999999", "0x8000000000000000",
                                  "0o1000000000000000000000"])
def test_an_integer_outside_64_bits_is_a_located_error(text):
    diagnostic = only_error(f"a: 1\nb: [1, {text}]\n")
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("DLS102", 2, 8)
    assert diagnostic.message == (f"integer {text} is out of range: a spec's integers fit in "
                                  "64 bits (magnitude below 2**63, about 9.2e18)")


def test_an_integer_of_thousands_of_digits_is_refused_without_converting_it():
    diagnostic = only_error("a: " + "7" * 5000 + "\n")  # int() of it raises ValueError
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("DLS102", 1, 4)
    assert diagnostic.message.startswith("integer 777777777777...777777 (5000 digits) is out "
                                         "of range")


@pytest.mark.parametrize("text, message", [
    ("!!int .inf", "'.inf' is not a valid !!int: an integer is a finite number"),
    ("!!int -.inf", "'-.inf' is not a valid !!int: an integer is a finite number"),
    ("!!int .nan", "'.nan' is not a valid !!int: an integer is a finite number"),
    ("!!int 2.5", "'2.5' is not a valid !!int: not a whole number"),
])
def test_the_int_tag_takes_only_finite_whole_numbers(text, message):
    diagnostic = only_error(f"a: {text}\n")
    assert (diagnostic.code, diagnostic.message) == ("DLS006", message)
    assert (diagnostic.span.line, diagnostic.span.col) == (1, 4)


def test_the_int_tag_on_a_huge_float_is_out_of_range():
    diagnostic = only_error("a: !!int 1e300\n")
    assert (diagnostic.code, diagnostic.span.col) == ("DLS102", 4)
    assert diagnostic.message.startswith("integer 1e300 is out of range")


def test_the_int_and_float_tags_convert_what_they_can():
    assert value_of("a: !!int 1e3\nb: !!float 99999999999999999999999\n") == {
        "a": 1000, "b": 1e23}

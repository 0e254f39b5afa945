"""Every spec under tests/specs/invalid/ must fail `dlspec.api.check` with exactly the
diagnostics its header declares:

    # expect: DLS101 at 14:23      one line per expected error (code, line, column)
    # hint: did you mean 'linear'?  optional: some error's hint contains this text
    # message: unknown metric       optional: some error's message contains this text
    # xfail: why                   optional: a known dlspec bug; the expectation stays right

A location is the offending token: the key for unknown keys, the value otherwise, and the
layer item for shape errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dlspec.api import check
from dlspec.errors import CODES, DlspecError

INVALID = Path(__file__).resolve().parents[1] / "specs" / "invalid"
SPECS = sorted(INVALID.glob("*.yaml"))

_EXPECT = re.compile(r"^# expect: (DLS\d{3}) at (\d+):(\d+)\s*$")
_HINT = re.compile(r"^# hint: (.+?)\s*$")
_MESSAGE = re.compile(r"^# message: (.+?)\s*$")
_XFAIL = re.compile(r"^# xfail: (.+?)\s*$")


@dataclass
class Header:
    expected: list[tuple[str, int, int]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    xfail: str | None = None


def read_header(path: Path) -> Header:
    header = Header()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if match := _EXPECT.match(line):
            header.expected.append((match[1], int(match[2]), int(match[3])))
        elif match := _HINT.match(line):
            header.hints.append(match[1])
        elif match := _MESSAGE.match(line):
            header.messages.append(match[1])
        elif match := _XFAIL.match(line):
            header.xfail = match[1]
    return header


def _param(path: Path):
    reason = read_header(path).xfail
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(path, id=path.stem, marks=marks)


def test_there_are_enough_invalid_specs():
    assert len(SPECS) >= 30


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_header_is_well_formed(path: Path):
    header = read_header(path)
    assert header.expected, f"{path.name} declares no `# expect:` line"
    assert all(code in CODES for code, _, _ in header.expected)
    lines = path.read_text(encoding="utf-8").splitlines()
    for _, line, col in header.expected:
        assert 1 <= line <= len(lines) and 1 <= col <= len(lines[line - 1]) + 1, \
            f"{path.name}: {line}:{col} is outside the file"


@pytest.mark.parametrize("path", [_param(p) for p in SPECS])
def test_invalid_spec_reports_exactly_the_expected_errors(path: Path):
    header = read_header(path)
    with pytest.raises(DlspecError) as caught:
        check(path)
    diagnostics = caught.value.diagnostics
    found = sorted((d.code, d.span.line, d.span.col) for d in diagnostics if d.span)
    assert all(d.span is not None for d in diagnostics), caught.value
    # a list, not a set: one mistake gives one error, never the same one twice
    assert found == sorted(header.expected), str(caught.value)
    for diagnostic in diagnostics:
        assert diagnostic.severity == "error"
        first = diagnostic.format().splitlines()[0]
        where = f"{path}:{diagnostic.span.line}:{diagnostic.span.col}"
        assert re.match(rf"^{re.escape(where)}: error {diagnostic.code}: \S", first), first
    hints = [d.hint or "" for d in diagnostics]
    for text in header.hints:
        assert any(text in hint for hint in hints), f"no hint contains {text!r}: {hints}"
    messages = [d.message for d in diagnostics]
    for text in header.messages:
        assert any(text in message for message in messages), \
            f"no message contains {text!r}: {messages}"


def test_unknown_top_level_key_suggests_the_close_one():
    with pytest.raises(DlspecError) as caught:
        check(INVALID / "unknown_top_level_key.yaml")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == "unknown key 'optimiser'"
    assert diagnostic.hint == "did you mean 'optimizer'?"
    assert diagnostic.format().endswith("\n  help: did you mean 'optimizer'?")


def test_unknown_key_far_from_any_lists_the_valid_ones():
    with pytest.raises(DlspecError) as caught:
        check(INVALID / "several_errors_in_sections.yaml")
    unknown = [d for d in caught.value.diagnostics if d.code == "DLS101"]
    assert [d.message for d in unknown] == ["unknown key 'epochs'"]
    assert unknown[0].hint.startswith("one of: blocks, data, description, dlspec")


def test_errors_name_the_layer_and_op():
    with pytest.raises(DlspecError) as caught:
        check(INVALID / "shape_error_inside_block.yaml")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.layer, diagnostic.op) == ("res1.add", "add")
    assert "in layer 'res1.add' (add): inputs have shapes (N, 8, 8, 8) and (N, 16, 8, 8)" \
        in diagnostic.format()


def test_union_alternatives_give_one_error():
    with pytest.raises(DlspecError) as caught:
        check(INVALID / "wrong_type.yaml")
    (diagnostic,) = caught.value.diagnostics
    assert "'kernel_size'" in diagnostic.message and "(got 'three')" in diagnostic.message
    assert "valid integer" in diagnostic.message and "valid tuple" in diagnostic.message


def test_alias_bomb_is_refused_at_the_first_anchor():
    with pytest.raises(DlspecError) as caught:
        check(INVALID / "yaml_alias_bomb.yaml")
    assert caught.value.codes == ["DLS003"]
    assert "'&a'" in caught.value.diagnostics[0].message

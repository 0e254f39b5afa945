"""Read YAML into plain Python values plus a map from each value's path to its source position.

Stricter than `yaml.safe_load`, on purpose:
- scalars follow the YAML 1.2 core schema (`1e-3` is a float), and the YAML 1.1 booleans
  `yes`/`no`/`on`/`off` are rejected as ambiguous instead of silently becoming bools;
- duplicate keys, anchors/aliases (alias bombs), tags, non-string keys and absurd nesting
  are located errors.
Every problem found is collected; the caller gets them all at once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from dlspec.errors import Diagnostic, SourceSpan, SpecError
from dlspec.spec.limits import (
    INT_MAX,
    MAX_BYTES,
    MAX_DEPTH,
    MAX_VALUES,
    int_in_range,
    out_of_range,
)

__all__ = ["MAX_BYTES", "MAX_DEPTH", "OutOfRange", "Path_", "SourceMap", "read_yaml",
           "resolve_scalar"]
Path_ = tuple[str | int, ...]

_INT = re.compile(r"[-+]?[0-9]+$")
_INT_OCT = re.compile(r"0o[0-7]+$")
_INT_HEX = re.compile(r"0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)$")
_NAN = re.compile(r"\.(nan|NaN|NAN)$")
_NULLS = {"~", "null", "Null", "NULL", ""}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_QUOTED_STYLES = {"'", '"', "|", ">"}  # plain is None (pure Python) or "" (libyaml)
_AMBIGUOUS = {"yes", "no", "on", "off"}  # not y/n: x and y name data everywhere
_STANDARD_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq",
    # what the composer's implicit resolver may assign to a plain scalar; read as text here
    "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value",
}


@dataclass
class SourceMap:
    """Where each value of a loaded document came from, keyed by its path of keys/indexes."""

    file: str
    values: dict[Path_, SourceSpan] = field(default_factory=dict)
    keys: dict[Path_, SourceSpan] = field(default_factory=dict)

    def span(self, path: Path_) -> SourceSpan:
        """The position of the value at `path`, or of its nearest located ancestor."""
        path = tuple(path)
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, SourceSpan(self.file, 1, 1))

    def key_span(self, path: Path_) -> SourceSpan:
        """The position of the key that holds `path` (falls back to the value)."""
        return self.keys.get(tuple(path)) or self.span(path)


def _span(file: str, mark) -> SourceSpan:
    return SourceSpan(file, mark.line + 1, mark.column + 1)


if yaml.__with_libyaml__:  # libyaml's C parser makes events ~5x faster; we compose them

    class _EventSource(Composer, yaml.cyaml.CParser, Resolver):
        def __init__(self, stream: str):
            yaml.cyaml.CParser.__init__(self, stream)
            Composer.__init__(self)
            Resolver.__init__(self)

else:  # pragma: no cover - PyYAML built without libyaml
    _EventSource = yaml.SafeLoader  # type: ignore[misc, assignment]


class _StrictComposer(_EventSource):
    """Composes nodes from parser events, refusing aliases, anchors and deep nesting."""

    def __init__(self, stream, file: str):
        super().__init__(stream)
        self._file = file
        self._depth = 0
        self._values = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise SpecError(Diagnostic(
                "DLS003", f"alias '*{event.anchor}' is not allowed",
                _span(self._file, event.start_mark),
                hint="repeat the value, or use `params` and `blocks` to share it"))
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise SpecError(Diagnostic(
                "DLS003", f"anchor '&{event.anchor}' is not allowed",
                _span(self._file, event.start_mark),
                hint="use `params` for shared values and `blocks` for shared layers"))
        self._values += 1
        if self._values > MAX_VALUES:  # composing costs ~0.1 ms a value: bound it in total
            raise SpecError(Diagnostic(
                "DLS007", f"the spec holds more than {MAX_VALUES:_} values (keys, items, "
                "scalars); this is where it passes that", _span(self._file, event.start_mark),
                hint="a spec describes a model; keep data in data files"))
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise SpecError(Diagnostic(
                "DLS004", f"nesting deeper than {MAX_DEPTH} levels",
                _span(self._file, event.start_mark), hint="flatten the structure"))
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_scalar_node(self, anchor):
        explicit = self.peek_event().tag not in (None, "!")
        node = super().compose_scalar_node(anchor)
        node.explicit_tag = explicit  # `!!str 5` is text, whatever the value looks like
        return node


class OutOfRange(ValueError):
    """An integer literal outside 64 bits (see dlspec/spec/limits.py)."""


def resolve_scalar(text: str) -> Any:
    """A plain (unquoted) scalar's value under the YAML 1.2 core schema. Raises OutOfRange
    for an integer outside 64 bits (a literal of thousands of digits is never converted)."""
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    for pattern, start, base in ((_INT, 0, 10), (_INT_OCT, 2, 8), (_INT_HEX, 2, 16)):
        if pattern.match(text):
            if len(text.lstrip("+-")[start:].lstrip("0")) > len(str(INT_MAX)):
                raise OutOfRange(out_of_range(text))
            value = int(text[start:], base)
            if not int_in_range(value):
                raise OutOfRange(out_of_range(text))
            return value
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.match(text):
        return math.nan
    return text


class _Builder:
    """Turns composed nodes into plain values, recording positions and collecting problems."""

    def __init__(self, file: str):
        self.source = SourceMap(file)
        self.problems: list[Diagnostic] = []

    def here(self, node: Node) -> SourceSpan:
        return _span(self.source.file, node.start_mark)

    def build(self, node: Node, path: Path_) -> Any:
        self.source.values[path] = self.here(node)
        if node.tag not in _STANDARD_TAGS:
            self.problems.append(Diagnostic(
                "DLS006", f"tag '{node.tag}' is not allowed", self.here(node),
                hint="remove the tag; specs are plain data"))
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.mapping(node, path)

    def scalar(self, node: ScalarNode) -> Any:
        if node.style in _QUOTED_STYLES:  # quoted or block scalar: always a string
            return node.value
        if getattr(node, "explicit_tag", False):
            return self.tagged(node)
        if node.value.lower() in _AMBIGUOUS:
            word = node.value
            self.problems.append(Diagnostic(
                "DLS005", f"'{word}' is ambiguous (YAML 1.1 reads it as a boolean)",
                self.here(node),
                hint=f"write true or false for a boolean, or \"{word}\" in quotes for text"))
        try:
            return resolve_scalar(node.value)
        except OutOfRange as exc:
            return self.out_of_range(node, str(exc))

    def out_of_range(self, node: ScalarNode, message: str) -> None:
        self.problems.append(Diagnostic(
            "DLS102", f"integer {message}", self.here(node),
            hint="no size, count or seed needs more; check for extra digits"))
        return None

    def tagged(self, node: ScalarNode) -> Any:
        """A plain scalar with an explicit standard tag (`!!str 5`, `!!float 1`)."""
        kind = node.tag.rsplit(":", 1)[-1]
        if kind == "str":
            return node.value
        try:
            value = resolve_scalar(node.value)
        except OutOfRange as exc:
            if kind != "float":
                return self.out_of_range(node, str(exc))
            value = float(node.value)
        converters = {"int": lambda: _as_int(value), "float": lambda: float(value),
                      "bool": lambda: _as_bool(value), "null": lambda: _as_null(value)}
        try:
            return converters[kind]() if kind in converters else value
        except OutOfRange:
            return self.out_of_range(node, out_of_range(node.value))
        except (TypeError, ValueError, OverflowError) as exc:
            why = f": {exc}" if kind == "int" and str(exc) else ""
            self.problems.append(Diagnostic(
                "DLS006", f"'{node.value}' is not a valid !!{kind}{why}", self.here(node),
                hint="remove the tag or fix the value"))
            return None

    def mapping(self, node: MappingNode, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(Diagnostic(
                    "DLS006", "keys must be plain names", self.here(key_node),
                    hint="write the key as text; merge keys (<<) are not supported"))
                continue
            key = key_node.value
            if key in result:
                first = self.source.keys[(*path, key)]
                self.problems.append(Diagnostic(
                    "DLS002", f"duplicate key '{key}' (first at line {first.line})",
                    self.here(key_node), hint="remove one of the two"))
                continue
            self.source.keys[(*path, key)] = self.here(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result


def _as_int(value: Any) -> int:
    """`!!int` of a number: a whole, finite number that fits in 64 bits (never truncated)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("an integer is a finite number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("not a whole number")
    if not int_in_range(int(value)):
        raise OutOfRange()
    return int(value)


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(value)
    return value


def _as_null(value: Any) -> None:
    if value is not None:
        raise ValueError(value)
    return None


def read_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document. Raises SpecError with every problem found."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise SpecError(Diagnostic("DLS007", f"file is larger than {MAX_BYTES >> 20} MiB",
                                   SourceSpan(file, 1, 1)))
    refused = _NOT_PRINTABLE.search(text)  # checked first: libyaml reports a byte offset
    if refused:
        raise SpecError(_unreadable_character(text, file, refused))
    loader = _StrictComposer(text, file)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = _span(file, mark) if mark else SourceSpan(file, 1, 1)
        problem = exc.problem or exc.context or "cannot parse"
        hint = None
        start = _span(file, exc.context_mark) if exc.context_mark else span
        if exc.problem and exc.context and start != span:  # e.g. where an unclosed `{` opened
            hint = f"{exc.context} that starts at line {start.line}, column {start.col}"
        lines = text.splitlines()
        if span.line <= len(lines) and lines[span.line - 1][span.col - 1:span.col] == "\t":
            hint = "YAML indents with spaces; replace the tab with spaces"
        raise SpecError(Diagnostic("DLS001", problem, span, hint=hint)) from None
    except yaml.YAMLError as exc:
        raise SpecError(Diagnostic("DLS001", str(exc), SourceSpan(file, 1, 1))) from None
    finally:
        loader.dispose()
    builder = _Builder(file)
    value = builder.build(node, ()) if node is not None else None
    if builder.problems:
        raise SpecError(builder.problems)
    return value, builder.source


# What YAML may hold (its c-printable set); the reader refuses anything else
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd"
                            "\U00010000-\U0010ffff]")
_LINE_BREAK = re.compile("\r\n|\r|\n")


def _unreadable_character(text: str, file: str, found: re.Match) -> Diagnostic:
    """A character YAML refuses (a control character, a lone surrogate), at its line:col
    counted in characters, like every other position."""
    before = _LINE_BREAK.split(text[:found.start()])
    code = ord(found.group())
    why = "control characters are not allowed" if code < 0xa0 else "YAML does not allow it"
    return Diagnostic(
        "DLS001", f"unacceptable character #x{code:04x}: {why}",
        SourceSpan(file, len(before), len(before[-1]) + 1),
        hint=f"remove it; in a double-quoted string write it as an escape (\\x{code:02x})"
        if code < 0x100 else "remove it")

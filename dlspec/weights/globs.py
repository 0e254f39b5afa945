"""Tensor-name globs with captures, and the `{i}` templates that reuse them (no torch).

In a pattern, `*` matches one dotted part or a piece of one (never a dot), `**` any number
of characters, dots included, and `?` one character other than a dot; each wildcard is a
capture, numbered from 1 in order. A template names a source tensor with `{i}` for capture
i, `{0}` for the whole matched name, and `{i+k}` / `{i-k}` for an integer capture shifted by k
(when the two models number their repeated layers differently); `{i+t[j]}` adds the entry of
the mapping's table t for capture j, and `{t[j]}` is that entry alone (torchvision numbers
the blocks of every stage in one flat `features.N`, a spec per stage: the table holds where
each stage starts).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

_WILDCARD = re.compile(r"\*\*|\*|\?")
_FIELD = re.compile(r"\{(?:(\d+)(?:([+-])(?:(\d+)|(\w+)\[(\d+)\]))?|(\w+)\[(\d+)\])\}")


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """The regular expression of a glob; every wildcard is a group."""
    pieces, at = [], 0
    for found in _WILDCARD.finditer(pattern):
        pieces.append(re.escape(pattern[at:found.start()]))
        pieces.append({"**": "(.+?)", "*": "([^.]+?)", "?": "([^.])"}[found.group()])
        at = found.end()
    pieces.append(re.escape(pattern[at:]))
    return re.compile("".join(pieces) + r"\Z")


def captures(pattern: str) -> int:
    """How many wildcards (captures) a glob has."""
    return len(_WILDCARD.findall(pattern))


def match(pattern: str, name: str) -> tuple[str, ...] | None:
    """The captures of `name` under `pattern` (`{0}`, the whole name, first), or None."""
    found = compile_glob(pattern).match(name)
    return None if found is None else (name, *found.groups())


def matches_tail(pattern: str, name: str) -> bool:
    """Whether `pattern` matches `name` or its last dotted parts (`*.num_batches_tracked`
    matches 'layer1.0.bn1.num_batches_tracked')."""
    parts = name.split(".")
    return any(compile_glob(pattern).match(".".join(parts[i:])) for i in range(len(parts)))


def fields(template: str) -> list[int]:
    """The capture numbers a template uses."""
    return [int(n) for found in _FIELD.finditer(template)
            for n in (found.group(1), found.group(5), found.group(7)) if n is not None]


def tables_used(template: str) -> list[str]:
    """The table names a template looks up."""
    return [name for found in _FIELD.finditer(template)
            for name in (found.group(4), found.group(6)) if name is not None]


def stray_braces(template: str) -> bool:
    """Whether a template has a `{` or `}` that is not part of a `{i}` field."""
    return "{" in _FIELD.sub("", template) or "}" in _FIELD.sub("", template)


class TemplateError(ValueError):
    """A shifted field `{i+k}` whose capture is not an integer, or a table without the
    capture's entry."""


def fill(template: str, groups: tuple[str, ...],
         tables: Mapping[str, Mapping[str, int]] | None = None) -> str:
    """The template with each field replaced by its capture (shifted, or looked up)."""

    def entry(name: str, index: str) -> int:
        key = groups[int(index)]
        table = (tables or {}).get(name, {})
        if key not in table:
            raise TemplateError(f"table '{name}' has no entry for '{key}' (capture {index})")
        return table[key]

    def one(found: re.Match[str]) -> str:
        capture, sign, shift, name, index, alone, alone_index = found.groups()
        if alone is not None:
            return str(entry(alone, alone_index))
        value = groups[int(capture)]
        if not sign:
            return value
        if not value.isdigit():
            raise TemplateError(f"'{found.group()}' shifts capture {capture} but it is "
                                f"'{value}', not a number")
        amount = int(shift) if shift is not None else entry(name, index)
        return str(int(value) + (amount if sign == "+" else -amount))

    return _FIELD.sub(one, template)

"""Tensor-name globs with captures, and the `{i}` templates that reuse them (no torch).

In a pattern, `*` matches one dotted part or a piece of one (never a dot), `**` any number
of characters, dots included, and `?` one character other than a dot; each wildcard is a
capture, numbered from 1 in order. A template names a source tensor with `{i}` for capture
i, `{0}` for the whole matched name, and `{i+k}` / `{i-k}` for an integer capture shifted by k
(when the two models number their repeated layers differently).
"""

from __future__ import annotations

import re
from functools import lru_cache

_WILDCARD = re.compile(r"\*\*|\*|\?")
_FIELD = re.compile(r"\{(\d+)(?:([+-])(\d+))?\}")


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
    return [int(found.group(1)) for found in _FIELD.finditer(template)]


def stray_braces(template: str) -> bool:
    """Whether a template has a `{` or `}` that is not part of a `{i}` field."""
    return "{" in _FIELD.sub("", template) or "}" in _FIELD.sub("", template)


class TemplateError(ValueError):
    """A shifted field `{i+k}` whose capture is not an integer."""


def fill(template: str, groups: tuple[str, ...]) -> str:
    """The template with each field replaced by its capture."""

    def one(found: re.Match[str]) -> str:
        value = groups[int(found.group(1))]
        if not found.group(2):
            return value
        if not value.isdigit():
            raise TemplateError(f"'{found.group()}' shifts capture {found.group(1)} but it is "
                                f"'{value}', not a number")
        shift = int(found.group(3)) * (1 if found.group(2) == "+" else -1)
        return str(int(value) + shift)

    return _FIELD.sub(one, template)

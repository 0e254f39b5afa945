"""docs/ops.md, generated from the op registry (`dlspec docs`): every op with its summary and
shape rule (its docstring), how many inputs it takes, and its attributes with their type,
default and meaning. A test fails when the committed file is stale."""

from __future__ import annotations

import inspect
import json
from typing import Any

from dlspec.ops.base import Op
from dlspec.ops.registry import op_registry

HEADER = """# Ops

Every op a layer can use, generated from the op declarations by `dlspec docs` (do not edit by
hand). Shapes count the batch as dim 0 (`N`); `seq`, `H`, `W` and the like stay symbolic. Any
attribute may also be a `${{...}}` expression, and every layer may have `name`, `inputs`,
`when`, `tie` and `init` ([spec.md](spec.md#layers)).

| family | ops |
|---|---|
{index}
"""


def ops_markdown() -> str:
    families: dict[str, list[str]] = {}
    for name, cls in op_registry().items():
        families.setdefault(cls.__module__.rsplit(".", 1)[-1], []).append(name)
    index = "\n".join(f"| {family} | {', '.join(f'[`{n}`](#{n})' for n in names)} |"
                      for family, names in sorted(families.items()))
    sections = [_section(name, cls) for name, cls in op_registry().items()]
    return HEADER.format(index=index) + "\n" + "\n".join(sections)


def _section(name: str, cls: type[Op]) -> str:
    lines = [f"## {name}", "", inspect.cleandoc(cls.__doc__ or ""), "", _arity(cls), ""]
    properties = cls.model_json_schema()["properties"]
    rows = [(key, prop) for key, prop in properties.items() if key != "op"]
    if rows:
        lines += ["| attribute | type | default | description |", "|---|---|---|---|"]
        lines += [f"| `{key}` | {type_text(prop)} | {_default(cls, key)} | "
                  f"{_cell(prop.get('description', ''))} |" for key, prop in rows]
        lines.append("")
    return "\n".join(lines)


def _arity(cls: type[Op]) -> str:
    low, high = cls.min_inputs, cls.max_inputs
    if high is None:
        return f"Inputs: {low} or more."
    return f"Inputs: {low}." if low == high else f"Inputs: {low} to {high}."


def _default(cls: type[Op], key: str) -> str:
    field = cls.model_fields[key]
    if field.is_required():
        return "required"
    return f"`{json.dumps(field.get_default(call_default_factory=True))}`"


def type_text(prop: dict[str, Any]) -> str:
    """A JSON Schema type in words: `int >= 1 or list of int >= 1`, `one of: same, valid`."""
    if "anyOf" in prop:
        return " or ".join(type_text(option) for option in prop["anyOf"])
    if "enum" in prop:
        return "one of: " + ", ".join(f"`{v}`" for v in prop["enum"])
    if prop.get("type") == "array":
        items = prop.get("items") or prop.get("prefixItems", [{}])[0]
        return f"list of {type_text(items)}"
    words = {"integer": "int", "number": "float", "boolean": "bool", "string": "text",
             "null": "null"}.get(prop.get("type", ""), "any")
    bounds = [f"{sign} {prop[key]}" for key, sign in (
        ("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
        ("exclusiveMaximum", "<")) if key in prop]
    return " ".join([words, " and ".join(bounds)]) if bounds else words


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")

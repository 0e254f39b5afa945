"""JSON Schema for spec files, generated from the pydantic models and the op registry.

Editors (through the yaml-language-server `$schema` line) use it to complete keys and show
each field's description and default on hover. Numbers, booleans and constrained strings may
also be `${...}` expressions anywhere (the loader evaluates them); layers are described in
schema_layers.py.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from dlspec.ops.registry import op_registry
from dlspec.spec.schema_layers import EXPRESSION, LAYER, layer_definitions, with_expression

SCALARS = ("integer", "number", "boolean")
LAYER_LISTS = ("model", "layers")  # properties holding a list of layers


class WithFactoryDefaults(GenerateJsonSchema):
    """Pydantic leaves out defaults made by a factory (`default_factory=list`); an editor
    should show them too, so they are made and written like plain defaults."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()
        return super().get_default_value(schema)


def spec_json_schema() -> dict[str, Any]:
    from dlspec.spec.models import Spec

    schema = Spec.model_json_schema(schema_generator=WithFactoryDefaults)
    _layer_lists(schema)
    init = schema["properties"]["init"]
    init["propertyNames"] = {"enum": list(op_registry())}
    init["additionalProperties"] = {"$ref": "#/$defs/LayerInit"}
    schema["$defs"].update(layer_definitions(WithFactoryDefaults))
    _allow_expressions(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dlspec spec"
    return schema


def _allow_expressions(node: Any) -> None:
    """Let every number, boolean and patterned or enumerated string below `node` be a
    ${...} expression too (in place)."""
    if isinstance(node, list):
        for item in node:
            _allow_expressions(item)
        return
    if not isinstance(node, dict):
        return
    for key in ("properties", "$defs", "patternProperties"):
        for name, child in (node.get(key) or {}).items():
            _allow_expressions(child)
            if key != "$defs" and _takes_expression(child):
                node[key][name] = with_expression(child)
    for key in ("items", "additionalProperties"):
        child = node.get(key)
        _allow_expressions(child)
        if isinstance(child, dict) and _takes_expression(child):
            node[key] = with_expression(child)
    for key in ("anyOf", "oneOf", "prefixItems"):
        _allow_expressions(node.get(key))


def _takes_expression(prop: dict[str, Any]) -> bool:
    options = prop.get("anyOf", [prop])
    if EXPRESSION in options or "const" in prop:
        return False
    return any(o.get("type") in SCALARS or (o.get("type") == "string" and (
        "pattern" in o or "enum" in o)) for o in options)


def _layer_lists(node: Any, key: str = "") -> None:
    """Point the item schema of every `model:`/`layers:` list at the Layer definition."""
    if isinstance(node, list):
        for item in node:
            _layer_lists(item, key)
    elif isinstance(node, dict):
        if key in LAYER_LISTS and node.get("type") == "array":
            node["items"] = LAYER
        for child_key, child in node.items():
            if child_key == "properties":
                for name, prop in child.items():
                    _layer_lists(prop, name)
            else:
                _layer_lists(child, key if child_key == "anyOf" else "")


def schema_text() -> str:
    return json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n"

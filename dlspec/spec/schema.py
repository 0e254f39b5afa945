"""JSON Schema for spec files, generated from the pydantic models and the op registry.

Editors (through the yaml-language-server `$schema` line) use it to complete keys and show
each field's description on hover. Layer attributes may also be `${...}` expressions.
"""

from __future__ import annotations

import json
from typing import Any

from dlspec.ops.registry import op_registry

EXPRESSION = {"type": "string", "pattern": r"^.*\$\{.*\}.*$",
              "description": "A ${...} expression over params, e.g. \"${4 * d}\"."}
FRAME_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
             "description": "Layer name; parameters are named after it. Default: the op "
                            "name, numbered (relu, relu_1, ...)."},
    "inputs": {"description": "Layer(s) or model input(s) this layer takes. Default: the "
                              "previous layer.",
               "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
}
BLOCK_CALL: dict[str, Any] = {
    "type": "object",
    "description": "Use of a block defined under `blocks:`; other keys are block parameters.",
    "required": ["block"],
    "properties": {
        "block": {"type": "string", "description": "Name of the block to use."},
        "repeat": {"anyOf": [{"type": "integer", "minimum": 1}, EXPRESSION],
                   "description": "Chain this many instances (named <name>.0, <name>.1, ...)."},
        **FRAME_PROPERTIES,
    },
}


def spec_json_schema() -> dict[str, Any]:
    from dlspec.spec.models import Spec

    schema = Spec.model_json_schema()
    defs = schema.setdefault("$defs", {})
    layer_refs = []
    for name, cls in op_registry().items():
        op_schema = cls.model_json_schema()
        defs.update(op_schema.pop("$defs", {}))
        defs[f"op_{name}"] = _layer_schema(op_schema, cls.summary())
        layer_refs.append({"$ref": f"#/$defs/op_{name}"})
    defs["BlockCall"] = BLOCK_CALL
    defs["Layer"] = {"anyOf": [*layer_refs, {"$ref": "#/$defs/BlockCall"}],
                     "description": "A layer: `op:` and its attributes, or `block:`."}
    layer_list = {"type": "array", "items": {"$ref": "#/$defs/Layer"}}
    schema["properties"]["model"].update(layer_list)
    defs["BlockConfig"]["properties"]["layers"].update(layer_list)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dlspec spec"
    return schema


def _layer_schema(op_schema: dict[str, Any], summary: str) -> dict[str, Any]:
    properties = op_schema["properties"]
    properties["op"]["description"] = summary
    for key, prop in properties.items():
        if key == "op":
            continue
        described = {k: prop[k] for k in ("description", "default", "title") if k in prop}
        options = {k: v for k, v in prop.items() if k not in described}
        properties[key] = {**described, "anyOf": [options, EXPRESSION]}
    properties.update(FRAME_PROPERTIES)
    op_schema["required"] = sorted({"op", *op_schema.get("required", [])})
    op_schema["additionalProperties"] = False
    return op_schema


def schema_text() -> str:
    return json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n"

"""The JSON Schema of layer items, for spec_json_schema: an op with its attributes (from its
declaration), a block call, or an inline group; the keys every layer may have; per-layer
`init`. Layer attributes may be `${...}` expressions."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from dlspec.ops.registry import op_registry

EXPRESSION = {"type": "string", "pattern": r"^.*\$\{.*\}.*$",
              "description": "A ${...} expression over params, e.g. \"${4 * d}\"."}
LAYER = {"$ref": "#/$defs/Layer"}
FRAME_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
             "description": "Layer name; parameters are named after it. Default: the op "
                            "name, numbered (relu, relu_1, ...)."},
    "inputs": {"description": "Layer(s) or model input(s) this layer takes; `a ?? b` is b "
                              "where a was skipped by `when`. Default: the previous layer.",
               "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "when": {"description": "Keep this item only where the condition holds, e.g. "
                            "\"${stride != 1}\"; elsewhere the next layer reads the previous "
                            "one's output.", "anyOf": [{"type": "boolean"}, EXPRESSION]},
}
OP_ONLY_PROPERTIES: dict[str, Any] = {
    "tie": {"type": "string", "description": "A layer whose `weight` this layer shares: one "
                                             "parameter (an LM head tied to the embedding)."},
    "init": {"$ref": "#/$defs/LayerInit",
             "description": "Initial values of this layer's parameters: parameter-name glob "
                            "-> scheme, e.g. {weight: xavier_uniform, bias: zeros}."},
}
BLOCK_CALL: dict[str, Any] = {
    "type": "object",
    "description": "Use of a block defined under `blocks:`; other keys are block parameters.",
    "required": ["block"],
    "properties": {
        "block": {"type": "string", "description": "Name of the block to use."},
        "repeat": {"anyOf": [{"type": "integer", "minimum": 1}, EXPRESSION],
                   "description": "Chain this many instances (named <name>.0, <name>.1, ...); "
                                  "a block parameter given as a list gives one value per "
                                  "instance."},
        **FRAME_PROPERTIES,
    },
}
GROUP: dict[str, Any] = {
    "type": "object",
    "description": "An inline group of layers: they get the group's name as a prefix, and "
                   "the group's output is its last layer's.",
    "required": ["layers"],
    "properties": {"layers": {"type": "array", "items": LAYER, "minItems": 1,
                              "description": "The group's layers, in order."},
                   **FRAME_PROPERTIES},
    "additionalProperties": False,
}


def layer_definitions(generator: type) -> dict[str, Any]:
    """$defs for layers: one per op (`op_linear`), BlockCall, Group, Layer, LayerInit."""
    from dlspec.spec.init import SCHEMES, InitScheme

    defs: dict[str, Any] = {}
    refs = []
    for name, cls in op_registry().items():
        op_schema = cls.model_json_schema(schema_generator=generator)
        defs.update(op_schema.pop("$defs", {}))
        defs[f"op_{name}"] = _op_schema(op_schema, cls.summary())
        refs.append({"$ref": f"#/$defs/op_{name}"})
    scheme = TypeAdapter(InitScheme).json_schema(ref_template="#/$defs/{model}",
                                                 schema_generator=generator)
    defs.update(scheme.pop("$defs", {}))
    shorthand = {"enum": list(SCHEMES), "description": "A scheme with its default settings."}
    defs["LayerInit"] = {"type": "object", "description": "Parameter-name glob -> scheme.",
                         "additionalProperties": {"anyOf": [scheme, shorthand]}}
    defs["BlockCall"] = BLOCK_CALL
    defs["Group"] = GROUP
    defs["Layer"] = {"anyOf": [*refs, {"$ref": "#/$defs/BlockCall"}, {"$ref": "#/$defs/Group"}],
                     "description": "A layer: `op:` and its attributes, `block:`, or `layers:` "
                                    "(an inline group)."}
    return defs


def _op_schema(op_schema: dict[str, Any], summary: str) -> dict[str, Any]:
    properties = op_schema["properties"]
    properties["op"]["description"] = summary
    for key, prop in properties.items():
        if key != "op":
            properties[key] = with_expression(prop)
    for key, prop in {**FRAME_PROPERTIES, **OP_ONLY_PROPERTIES}.items():
        properties.setdefault(key, prop)  # an attribute of the op keeps its own meaning
    op_schema["required"] = sorted({"op", *op_schema.get("required", [])})
    op_schema["additionalProperties"] = False
    return op_schema


def with_expression(prop: dict[str, Any]) -> dict[str, Any]:
    """`prop` accepting a ${...} expression as well; description, default and title stay
    outside, where editors look for them."""
    described = {k: prop[k] for k in ("description", "default", "title") if k in prop}
    options = {k: v for k, v in prop.items() if k not in described}
    if list(options) == ["anyOf"]:
        return {**described, "anyOf": [*options["anyOf"], EXPRESSION]}
    return {**described, "anyOf": [options, EXPRESSION]}

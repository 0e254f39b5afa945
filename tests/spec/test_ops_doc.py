"""The generated op reference says what each op's declaration says."""

from dlspec.ops.registry import op_registry
from dlspec.spec.ops_doc import ops_markdown, type_text


def test_every_op_has_a_section_with_its_summary_and_attributes():
    text = ops_markdown()
    for name, cls in op_registry().items():
        assert f"\n## {name}\n\n{cls.summary()}" in text, name
    assert "| `out_features` | int >= 1 | required | Size of each output sample. |" in text
    assert "| `bias` | bool | `true` | Learn an additive bias. |" in text
    assert "Inputs: 2 or more." in text.split("## add\n")[1].split("##")[0]


def test_types_read_as_words():
    assert type_text({"anyOf": [{"type": "integer", "minimum": 1},
                                {"type": "array", "items": {"type": "integer", "minimum": 1}},
                                {"enum": ["same", "valid"], "type": "string"}]}) == \
        "int >= 1 or list of int >= 1 or one of: `same`, `valid`"
    assert type_text({"type": "number", "minimum": 0.0, "exclusiveMaximum": 1.0}) == \
        "float >= 0.0 and < 1.0"

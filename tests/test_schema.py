"""The committed JSON Schema is current, and it accepts the shipped specs."""

from pathlib import Path

import jsonschema
import pytest

from dlspec.spec.schema import schema_text, spec_json_schema
from dlspec.spec.yaml_source import read_yaml

ROOT = Path(__file__).resolve().parents[1]


def test_committed_schema_is_current():
    committed = (ROOT / "schemas" / "dlspec.schema.json").read_text()
    assert committed == schema_text(), "schema is stale: run `dlspec schema`"


@pytest.mark.parametrize("spec", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_specs_validate_against_the_schema(spec):
    document, _ = read_yaml(spec.read_text(), str(spec))  # YAML 1.2, as editors read it
    jsonschema.validate(document, spec_json_schema())


def test_schema_rejects_an_unknown_layer_attribute():
    spec, _ = read_yaml((ROOT / "specs" / "mlp-digits.yaml").read_text(), "mlp-digits.yaml")
    spec["model"][0]["out_featurez"] = 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(spec, spec_json_schema())


def test_every_op_attribute_has_a_description():
    defs = spec_json_schema()["$defs"]
    for name, definition in defs.items():
        if name.startswith("op_"):
            for key, prop in definition["properties"].items():
                assert prop.get("description"), f"{name}.{key} has no description"


def test_specs_start_with_the_schema_line():
    for spec in (ROOT / "specs").glob("*.yaml"):
        first = spec.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schemas/dlspec.schema.json", spec

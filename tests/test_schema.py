"""The committed JSON Schema is current, and it accepts the shipped specs."""

import typing
from pathlib import Path

import jsonschema
import pytest
from pydantic import BaseModel

from dlspec.spec.schema import schema_text, spec_json_schema
from dlspec.spec.yaml_source import read_yaml

ROOT = Path(__file__).resolve().parents[1]


def test_committed_schema_is_current():
    committed = (ROOT / "schemas" / "dlspec.schema.json").read_text()
    assert committed == schema_text(), "schema is stale: run `dlspec schema`"


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(spec_json_schema())


def read(path: Path):
    return read_yaml(path.read_text(), str(path))[0]  # YAML 1.2, as editors read it


SPECS = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "tests/specs/valid").glob("*.yaml"))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_shipped_specs_validate_against_the_schema(spec, validator):
    validator.validate(read(spec))


def test_schema_rejects_an_unknown_layer_attribute(validator):
    spec = read(ROOT / "specs" / "mlp-digits.yaml")
    spec["model"][0]["out_featurez"] = 3
    assert not validator.is_valid(spec)


def test_expressions_conditions_groups_and_ties_are_accepted(validator):
    spec = read(ROOT / "specs" / "mlp-digits.yaml")
    spec["train"]["epochs"] = "${2 * 3}"  # any number may be an expression
    spec["model"][1] = {"name": "g", "when": "${hidden > 8}", "layers": [{"op": "relu"}]}
    spec["model"][-1]["tie"] = "fc1"
    spec["model"][-1]["init"] = {"weight": "xavier_uniform", "bias": {"scheme": "zeros"}}
    validator.validate(spec)
    spec["train"]["epochs"] = "many"
    assert not validator.is_valid(spec)


def test_specs_start_with_the_schema_line():
    for spec in SPECS:
        first = spec.read_text().splitlines()[0]
        relative = Path(*[".."] * (len(spec.relative_to(ROOT).parts) - 1))
        assert first == f"# yaml-language-server: $schema={relative}/schemas/dlspec.schema.json", \
            spec


def _properties(node, path=""):
    """Every (path, property schema) under a `properties` key, anywhere in the schema."""
    if isinstance(node, dict):
        for key, prop in (node.get("properties") or {}).items():
            yield f"{path}/{key}", prop
        for key, value in node.items():
            yield from _properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _properties(value, f"{path}/{index}")


def test_every_property_in_the_schema_has_a_description():
    """Editors show it on hover: spec fields, training sections, op attributes alike."""
    missing = [path for path, prop in _properties(spec_json_schema())
               if not isinstance(prop, dict) or not prop.get("description")]
    assert not missing, missing


def _models(cls, seen):
    """`cls` and every pydantic model its fields hold, by class name."""
    if cls.__name__ in seen:
        return
    seen[cls.__name__] = cls
    for field in cls.model_fields.values():
        todo = [field.annotation]
        while todo:
            kind = todo.pop()
            todo += typing.get_args(kind)
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                _models(kind, seen)


def test_every_field_with_a_default_shows_it():
    """Defaults made by a factory (`[]`, `{}`, a whole section) included."""
    from dlspec.ops.registry import op_registry
    from dlspec.spec.models import Spec

    schema = spec_json_schema()
    seen: dict[str, type[BaseModel]] = {}
    _models(Spec, seen)
    definitions = {name: schema if cls is Spec else schema["$defs"][name]
                   for name, cls in seen.items()}
    definitions |= {f"op_{name}": schema["$defs"][f"op_{name}"] for name in op_registry()}
    classes = {**seen, **{f"op_{name}": cls for name, cls in op_registry().items()}}
    for name, definition in definitions.items():
        for key, field in classes[name].model_fields.items():
            if not field.is_required():
                assert "default" in definition["properties"][field.alias or key], \
                    f"{name}.{key}"

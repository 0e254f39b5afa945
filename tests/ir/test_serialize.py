"""`dlspec compile --ir`: the fully resolved graph as stable JSON."""

import json
import warnings
from pathlib import Path

from dlspec.compiler import check_spec
from dlspec.ir.serialize import graph_to_json, spec_to_json, spec_to_text

SPECS = Path(__file__).resolve().parents[2] / "specs"


def test_ir_is_expanded_resolved_and_typed():
    checked = check_spec(SPECS / "cnn-digits.yaml")
    ir = graph_to_json(checked.graph, checked.spec.name, checked.loaded.params)
    by_name = {layer["name"]: layer for layer in ir["layers"]}
    conv = by_name["res1.conv1"]
    assert conv["op"] == "conv2d"
    assert conv["attributes"]["out_channels"] == 32  # "${channels}" evaluated
    assert conv["attributes"]["stride"] == 1  # default filled in
    assert conv["output"] == {"shape": ["N", 32, 8, 8], "dtype": "float32"}
    assert by_name["res1.add"]["inputs"] == ["relu", "res1.bn2"]
    assert ir["outputs"] == ["logits"]
    assert ir["inputs"] == [{"name": "image", "shape": ["N", 1, 8, 8], "dtype": "float32"}]


def test_ir_text_is_stable_and_changes_with_the_spec():
    path = SPECS / "mlp-digits.yaml"
    text = spec_to_text(check_spec(path))
    assert text == spec_to_text(check_spec(path))
    changed = json.loads(spec_to_text(check_spec(path, ["hidden=256", "optimizer.lr=0.01"])))
    assert changed["layers"][0]["attributes"]["out_features"] == 256
    assert changed["recipe"]["optimizer"]["lr"] == 0.01


def test_ir_recipe_has_defaults_filled_in():
    recipe = spec_to_json(check_spec(SPECS / "regression-diabetes.yaml"))["recipe"]
    assert recipe["optimizer"] == {"op": "adam", "lr": 0.01, "betas": [0.9, 0.999],
                                   "eps": 1e-08, "amsgrad": False, "weight_decay": 0.001,
                                   "no_decay": [], "groups": []}
    assert recipe["data"]["standardize"] is None  # auto: on for tabular features
    assert recipe["export"]["opset"] == 20


def test_per_model_sections_serialize_as_given_without_warnings():
    """A per-model optimizer and schedule are written per model (pydantic used to pick the
    one-section form for them and warn)."""
    checked = check_spec(SPECS / "dcgan-digits.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recipe = spec_to_json(checked)["recipe"]
    assert set(recipe["optimizer"]) == {"generator", "discriminator"}
    assert recipe["optimizer"]["discriminator"]["op"] == "adam"
    assert recipe["schedule"]["generator"]["op"] == "cosine"

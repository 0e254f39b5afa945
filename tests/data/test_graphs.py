"""The static side of the graph datasets: sbm's parameters under `data:` and the facts
validate checks a model against, located in the spec."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from dlspec.api import check
from dlspec.data.builtin import FieldInfo
from dlspec.data.config import DataConfig
from dlspec.data.graphs import describe_sbm
from dlspec.data.synthetic import synthetic_params
from dlspec.errors import DlspecError

SPECS = Path(__file__).resolve().parents[2] / "specs"


def error_text(**fields) -> str:
    with pytest.raises(ValidationError) as caught:
        DataConfig(**fields)
    return str(caught.value)


def test_parameters_default_and_are_taken():
    assert synthetic_params("sbm", {}) == {
        "samples": 600, "nodes": 32, "communities": 4, "node_features": 8, "p_in": 0.5,
        "p_out": 0.02, "noise": 1.2}
    config = DataConfig(dataset="sbm", nodes=12, communities=3, p_in=0.4, p_out=0.0, noise=0.5)
    params = synthetic_params("sbm", config.synthetic_params())
    assert (params["nodes"], params["communities"], params["p_in"], params["p_out"],
            params["noise"], params["samples"]) == (12, 3, 0.4, 0.0, 0.5, 600)


@pytest.mark.parametrize("fields, words", [
    ({"nodes": 3, "communities": 4}, "sbm needs at least one node per community: 4 "
                                     "communities, 3 nodes (set nodes >= communities)"),
    ({"p_in": 0.1, "p_out": 0.2}, "sbm needs p_in > p_out"),
    ({"p_in": 0.01}, "got p_in 0.01, p_out 0.02"),  # the default p_out
    ({"p_in": 1.5}, "less than or equal to 1"),
    ({"nodes": 4096}, "sbm would generate 10,085,990,400 values (37.6 GiB of float32: 600 "
                      "graphs of 4096 nodes, each with a 4096x4096 adjacency)"),
    ({"p_out": -0.1}, "greater than or equal to 0"),
    ({"communities": 1}, "greater than or equal to 2"),
    ({"nodes": 1}, "greater than or equal to 2"),
    ({"node_features": 0}, "greater than or equal to 1"),
    ({"nodes": 4.5}, "valid integer"),
    ({"length": 8}, "`length` is not a parameter of the dataset 'sbm' (it takes samples, "
                    "nodes, communities, node_features, p_in, p_out, noise)"),
    ({"standardize": True}, "standardize is for tabular features"),
])
def test_bad_parameters_are_refused(fields, words):
    assert words in error_text(dataset="sbm", **fields)


@pytest.mark.parametrize("dataset, words", [
    ("copy", "`nodes` is not a parameter of the dataset 'copy' (it takes samples, length, "
             "vocab); `nodes` is for sbm"),
    ("digits", "`nodes` is a parameter of the synthetic datasets"),
])
def test_graph_parameters_belong_to_sbm(dataset, words):
    assert words in error_text(dataset=dataset, nodes=10)


def test_static_facts():
    info = describe_sbm(synthetic_params("sbm", {"nodes": 10, "communities": 3,
                                                 "node_features": 5, "samples": 7}))
    assert (info.name, info.task, info.n_samples) == ("sbm", "tagging", 7)
    assert info.sample_shape == (10, 5) and info.n_features == 5 and info.vocab_size == 0
    assert info.class_names == ("community_0", "community_1", "community_2")
    assert info.fields == {"x": FieldInfo((10, 5)), "adjacency": FieldInfo((10, 10))}


def diagnostics(spec: str | Path, *overrides: str):
    with pytest.raises(DlspecError) as caught:
        check(SPECS / spec, overrides)
    return caught.value.diagnostics


def test_a_bad_parameter_is_located_in_the_spec():
    [found] = diagnostics("mlp-sbm.yaml", "data.nodes=3")
    assert found.code == "DLS102" and "at least one node per community" in found.message
    text = (SPECS / "mlp-sbm.yaml").read_text().splitlines()
    assert text[found.span.line - 1].startswith("data: {dataset: sbm")


def test_the_model_is_checked_against_the_node_features():
    [found] = diagnostics("mlp-sbm.yaml", "data.node_features=5")
    assert found.code == "DLS402" and "of shape [32, 5]" in found.message
    [found] = diagnostics("mlp-sbm.yaml", "data.communities=3")
    assert found.code == "DLS402"
    assert "sbm has 3 classes per token, but the model has 4 outputs" in found.message


def test_every_graph_input_is_checked_against_its_field(tmp_path):
    [found] = diagnostics("gcn-sbm.yaml", "data.node_features=5")
    assert found.code == "DLS402" and found.message == (
        "the shape ['nodes', 8] of the model's input 'x' does not fit the samples of field "
        "'x' of sbm, of shape [32, 5]")
    renamed = tmp_path / "gcn-adj.yaml"
    renamed.write_text((SPECS / "gcn-sbm.yaml").read_text().replace("adjacency", "adj"))
    [found] = diagnostics(renamed)
    assert found.code == "DLS402" and found.message == (
        "the model's input 'adj' has no field in sbm to be fed from (its fields: x, adjacency)")
    assert renamed.read_text().splitlines()[found.span.line - 1].startswith("data: {dataset: sbm")

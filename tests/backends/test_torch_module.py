"""The compiled module computes what the spec says, with parameters named after its layers."""

from pathlib import Path

import pytest
import torch
from torch import nn

from dlspec.analysis.dims import dim_names, dim_value
from dlspec.backends.torch_module import build_module, class_name, instantiate
from dlspec.compiler import check_spec
from dlspec.ops.base import Build

SPECS = Path(__file__).resolve().parents[2] / "specs"


def example_inputs(graph, batch: int) -> list[torch.Tensor]:
    """Random tensors of the graph's input types (symbolic dims at 8, ids below 2)."""
    generator = torch.Generator().manual_seed(0)
    tensors = []
    for name in graph.inputs:
        node_type = graph.node(name).type
        shape = [batch, *[d if isinstance(d, int) else 8 for d in node_type.sample_shape]]
        tensors.append(torch.randint(0, 2, shape, generator=generator)
                       if node_type.dtype == "int64" else torch.randn(shape, generator=generator))
    return tensors


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


RESIDUAL = """
dlspec: 1
name: two-branch
inputs:
  x: {shape: [6]}
  y: {shape: [4]}
model:
  - {op: linear, name: a, out_features: 5, inputs: x}
  - {op: linear, name: b, out_features: 5, inputs: y, bias: false}
  - {op: add, name: s, inputs: [a, b]}
  - {op: tanh, name: t}
  - {op: concat, name: c, inputs: [t, a], dim: 1}
outputs: [c, s]
"""


def test_parameter_names_follow_the_spec(tmp_path):
    module = build_module(check_spec(write(tmp_path, RESIDUAL)).graph)
    assert sorted(module.state_dict()) == ["a.bias", "a.weight", "b.weight"]


def test_forward_equals_the_hand_written_computation(tmp_path):
    module = build_module(check_spec(write(tmp_path, RESIDUAL)).graph)
    x, y = torch.randn(3, 6), torch.randn(3, 4)
    c, s = module(x, y)
    a = x @ module.a.weight.T + module.a.bias
    b = y @ module.b.weight.T
    torch.testing.assert_close(s, a + b)
    torch.testing.assert_close(c, torch.cat([torch.tanh(a + b), a], dim=1))


def test_block_instances_nest_parameters(tmp_path):
    checked = check_spec(SPECS / "cnn-digits.yaml")
    module = build_module(checked.graph, checked.spec.name)
    names = set(module.state_dict())
    assert {"res1.conv1.weight", "res1.bn2.running_var", "logits.bias"} <= names
    assert type(module).__name__ == "CnnDigits"


TRAINABLE = [p for p in sorted(SPECS.glob("*.yaml")) if "\ndata:" in p.read_text()]


@pytest.mark.parametrize("spec", TRAINABLE, ids=lambda p: p.stem)
def test_declared_shapes_match_the_real_outputs(spec):
    """Every layer of the example specs (the canonical architectures have their own tests,
    on scaled-down copies)."""
    checked = check_spec(spec)
    graph = checked.graph
    module = build_module(graph).eval()
    recorded = {}
    hooks = [module.get_submodule(node.name).register_forward_hook(
        lambda _m, _i, out, name=node.name: recorded.__setitem__(name, out.shape))
        for node in graph.layers()]
    module(*example_inputs(graph, batch=5))
    for hook in hooks:
        hook.remove()
    sizes = {name: 8 for t in (graph.node(n).type for n in graph.inputs)
             for name in dim_names(t)}
    for node in graph.layers():
        expected = (5, *(dim_value(d, sizes) for d in node.type.sample_shape))
        assert recorded[node.name] == expected, node.name


def test_only_torch_and_dlspec_layers_can_be_built():
    assert isinstance(instantiate(Build("torch.nn.ReLU")), nn.ReLU)
    with pytest.raises(ValueError, match="refusing"):
        instantiate(Build("os.system", {"command": "true"}))


@pytest.mark.parametrize(("name", "expected"), [
    ("mlp-digits", "MlpDigits"), ("gpt2.small", "Gpt2Small"), ("3layer", "Model3layer")])
def test_class_names_are_valid_identifiers(name, expected):
    assert class_name(name) == expected


def test_reserved_layer_names_cover_the_torch_module_attributes():
    from torch import fx, nn

    from dlspec.spec.models import TORCH_MODULE_ATTRIBUTES

    module = fx.GraphModule(nn.Module(), fx.Graph())
    public = {n for n in set(dir(module)) if not n.startswith("_")}
    assert public <= set(TORCH_MODULE_ATTRIBUTES)

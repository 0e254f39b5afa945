"""Merging ops: numpy broadcasting between inputs of one rank (symbolic dims included), a
squeeze-and-excitation gate written as a spec, subtract's order, and the hints on mismatch."""

from __future__ import annotations

import textwrap

import pytest
import torch

from dlspec.backends.torch_module import build_module, instantiate
from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.merge import broadcast_dims
from dlspec.ops.registry import op_registry
from dlspec.passes.infer_shapes import infer_shapes
from dlspec.passes.lower import lower
from dlspec.spec.load import load_text


def layer_for(op, inputs: list[TensorType]) -> torch.nn.Module:
    op.infer(*inputs)
    return instantiate(op.build(*inputs))


@pytest.mark.parametrize(("shapes", "expected"), [
    ([("N", 4, 1, 1), ("N", 4, "H", "W")], ("N", 4, "H", "W")),
    ([("N", "seq", 1), ("N", 1, 8)], ("N", "seq", 8)),
    ([("N", 1, 3), ("N", 2, 1), ("N", 1, 1)], ("N", 2, 3)),
    ([("N", "seq"), ("N", "L")], None),  # two symbols may differ at run time
    ([("N", "seq"), ("N", 4)], None),
    ([("N", 2, 3), ("N", 3, 3)], None),
    ([("N", 4), ("N", 4, 1)], None),  # the batch is dim 0 of both: no rank extension
])
def test_broadcast_dims(shapes, expected):
    assert broadcast_dims(*shapes) == expected


def test_a_squeeze_and_excitation_gate_as_a_spec():
    graph = infer_shapes(lower(load_text(textwrap.dedent("""\
        dlspec: 1
        name: se
        inputs: {image: {shape: [8, 5, 6]}}
        model:
          - {op: mean, dims: [2, 3], keepdim: true}
          - {op: flatten}
          - {op: linear, out_features: 2}
          - {op: relu}
          - {op: linear, out_features: 8}
          - {op: sigmoid}
          - {op: reshape, shape: [8, 1, 1]}
          - {op: multiply, name: gated, inputs: [image, reshape]}
        """), "s.yaml")))
    assert graph.node("reshape").type.shape == ("N", 8, 1, 1)
    assert graph.node("gated").type.shape == ("N", 8, 5, 6)
    module = build_module(graph)
    x = torch.randn(2, 8, 5, 6)
    squeeze = x.mean((2, 3))
    gate = torch.sigmoid(module.linear_1(torch.relu(module.linear(squeeze))))
    torch.testing.assert_close(module(x), x * gate[:, :, None, None])


def test_subtract_is_first_minus_second():
    op = op_registry()["subtract"]()
    layer = layer_for(op, [TensorType(("N", 3)), TensorType(("N", 1))])
    a, b = torch.randn(2, 3), torch.randn(2, 1)
    torch.testing.assert_close(layer(a, b), a - b)


def test_matmul_of_queries_and_transposed_keys():
    op = op_registry()["matmul"]()
    q, k = TensorType(("N", 2, "seq", 4)), TensorType(("N", 1, 4, "seq"))
    assert op.infer(q, k).shape == ("N", 2, "seq", "seq")
    a, b = torch.randn(3, 2, 5, 4), torch.randn(3, 1, 4, 5)
    torch.testing.assert_close(layer_for(op, [q, k])(a, b), a @ b)
    assert op.macs(TensorType((3, 2, 5, 4)), TensorType((3, 1, 4, 5))) == 3 * 2 * 5 * 5 * 4


@pytest.mark.parametrize(("op", "inputs", "hint"), [
    ("add", [("N", 3, 8, 8), ("N", 16, 8, 8)], "with a 1x1 conv2d of out_channels=16"),
    ("add", [("N", 1, 8, 8), ("N", 16, 8, 8)], "set `broadcast: true` if the sizes of 1"),
    ("add", [("N", 8), ("N", 8), ("N", 5)], "linear layer of out_features=8"),
    ("multiply", [("N", 8), ("N", 8, 1)], "insert size-1 dims with `unsqueeze`"),
    ("multiply", [("N", 4, 8), ("N", 4, 5)], "linear layer of out_features=8"),
    ("subtract", [("N", 2, 8), ("N", 3, 8)], "one must be 1 to broadcast"),
])
def test_mismatch_hints(op, inputs, hint):
    with pytest.raises(RuleError) as info:
        op_registry()[op]().infer(*[TensorType(shape) for shape in inputs])
    assert "they must be equal" in info.value.message
    assert hint in info.value.hint

"""Each activation's attributes reach torch: the built module equals the formula, written out
here, at non-default attribute values (a dropped or misnamed attribute would show)."""

from __future__ import annotations

import pytest
import torch

from dlspec.backends.torch_module import instantiate
from dlspec.ir.types import TensorType
from dlspec.ops.registry import op_registry


def run(config: dict, x: torch.Tensor) -> torch.Tensor:
    op = op_registry()[config["op"]].model_validate(config)
    with torch.no_grad():
        return instantiate(op.build(TensorType(tuple(x.shape)))).eval()(x)


def softplus(x, beta, threshold):
    return torch.where(beta * x > threshold, x, torch.log1p(torch.exp(beta * x)) / beta)


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805

FORMULAS = [
    ({"op": "elu", "alpha": 0.7}, lambda x: torch.where(x > 0, x, 0.7 * (torch.exp(x) - 1))),
    ({"op": "celu", "alpha": 2.0},
     lambda x: torch.clamp(x, min=0) + torch.clamp(2.0 * (torch.exp(x / 2.0) - 1), max=0)),
    ({"op": "selu"},
     lambda x: SELU_SCALE * torch.where(x > 0, x, SELU_ALPHA * (torch.exp(x) - 1))),
    ({"op": "softplus", "beta": 2.0, "threshold": 1.0}, lambda x: softplus(x, 2.0, 1.0)),
    ({"op": "mish"}, lambda x: x * torch.tanh(softplus(x, 1.0, 20.0))),
    ({"op": "hardsigmoid"}, lambda x: torch.clamp(x / 6 + 0.5, 0, 1)),
    ({"op": "hardswish"}, lambda x: x * torch.clamp(x + 3, 0, 6) / 6),
    ({"op": "hardtanh", "min_val": -0.5, "max_val": 2.0}, lambda x: torch.clamp(x, -0.5, 2.0)),
    ({"op": "relu6"}, lambda x: torch.clamp(x, 0, 6)),
    ({"op": "softsign"}, lambda x: x / (1 + x.abs())),
    ({"op": "tanhshrink"}, lambda x: x - torch.tanh(x)),
    ({"op": "log_softmax", "dim": 1},
     lambda x: x - torch.log(torch.exp(x).sum(1, keepdim=True))),
    ({"op": "prelu", "initial_slope": 0.1}, lambda x: torch.where(x > 0, x, 0.1 * x)),
]


@pytest.mark.parametrize(("config", "formula"), FORMULAS, ids=[c["op"] for c, _ in FORMULAS])
def test_activation_equals_its_formula(config, formula):
    x = torch.linspace(-8, 8, 60).reshape(3, 4, 5)
    torch.testing.assert_close(run(config, x), formula(x))


def test_prelu_learns_one_slope_per_channel():
    op = op_registry()["prelu"].model_validate({"op": "prelu", "per_channel": True})
    layer = instantiate(op.build(TensorType(("N", 3, "seq"))))
    assert layer.weight.shape == (3,)
    layer.weight.data = torch.tensor([0.0, 0.5, 2.0])
    x = -torch.ones(2, 3, 4)
    expected = -torch.tensor([0.0, 0.5, 2.0]).reshape(1, 3, 1).expand(2, 3, 4)
    torch.testing.assert_close(layer(x), expected)


def test_hardtanh_limits_must_be_ordered():
    with pytest.raises(ValueError, match="max_val"):
        op_registry()["hardtanh"].model_validate({"op": "hardtanh", "min_val": 1, "max_val": 1})


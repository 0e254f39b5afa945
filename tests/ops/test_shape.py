"""Rearranging ops move values where their shape rule says (symbolic dims included), and
refuse what would touch the batch dim with a hint."""

from __future__ import annotations

import pytest
import torch

from dlspec.backends.torch_module import instantiate
from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.registry import op_registry


def apply(config: dict, shape: tuple, x: torch.Tensor) -> tuple[tuple, torch.Tensor]:
    op = op_registry()[config["op"]].model_validate(config)
    declared = op.infer(TensorType(shape)).shape
    return declared, instantiate(op.build(TensorType(shape)))(x)


@pytest.mark.parametrize(("config", "shape", "expected_shape", "torch_op"), [
    ({"op": "permute", "dims": [2, 3, 1]}, ("N", 3, "H", "W"), ("N", "H", "W", 3),
     lambda x: x.permute(0, 2, 3, 1)),
    ({"op": "permute", "dims": [-1, 1, 2]}, ("N", 3, "H", "W"), ("N", "W", 3, "H"),
     lambda x: x.permute(0, 3, 1, 2)),
    ({"op": "transpose", "dim0": -1, "dim1": 1}, ("N", "seq", 4, 6), ("N", 6, 4, "seq"),
     lambda x: x.transpose(1, 3)),
    ({"op": "squeeze", "dim": -2}, ("N", "seq", 1, 6), ("N", "seq", 6),
     lambda x: x[:, :, 0]),
    ({"op": "unsqueeze", "dim": -1}, ("N", "seq", 6), ("N", "seq", 6, 1),
     lambda x: x[..., None]),
    ({"op": "identity"}, ("N", "seq"), ("N", "seq"), lambda x: x),
])
def test_values_go_where_the_rule_says(config, shape, expected_shape, torch_op):
    sizes = {"N": 2, "seq": 5, "H": 4, "W": 7}
    x = torch.randn(*[sizes.get(d, d) for d in shape])
    declared, out = apply(config, shape, x)
    assert declared == expected_shape
    assert torch.equal(out, torch_op(x))


def test_permute_listing_the_batch_hints_at_sample_dims_only():
    op = op_registry()["permute"].model_validate({"op": "permute", "dims": [0, 2, 1]})
    with pytest.raises(RuleError) as info:
        op.infer(TensorType(("N", 3, 4)))
    assert info.value.code == "DLS102"
    assert "[2, 1]" in info.value.hint


def test_squeeze_of_a_wider_dim_points_elsewhere():
    op = op_registry()["squeeze"].model_validate({"op": "squeeze", "dim": 1})
    with pytest.raises(RuleError) as info:
        op.infer(TensorType(("N", 4, 1)))
    assert "size 4, not 1" in info.value.message
    assert "`slice`" in info.value.hint

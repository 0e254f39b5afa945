"""Reductions: mean pools a sequence of any length; sum keeps integer dtypes."""

from __future__ import annotations

import torch

from dlspec.backends.torch_module import instantiate
from dlspec.ir.types import TensorType
from dlspec.ops.registry import op_registry


def layer(config: dict, x: TensorType) -> tuple[TensorType, torch.nn.Module]:
    op = op_registry()[config["op"]].model_validate(config)
    return op.infer(x), instantiate(op.build(x))


def test_mean_pools_tokens_at_any_sequence_length():
    declared, pool = layer({"op": "mean"}, TensorType(("N", "seq", 8)))
    assert declared.shape == ("N", 8)
    for length in (3, 11):
        x = torch.randn(2, length, 8)
        torch.testing.assert_close(pool(x), x.sum(1) / length)


def test_keepdim_and_several_dims():
    declared, pool = layer({"op": "mean", "dims": [-1, 2], "keepdim": True},
                           TensorType(("N", 4, "H", "W")))
    assert declared.shape == ("N", 4, 1, 1)
    x = torch.randn(2, 4, 5, 6)
    torch.testing.assert_close(pool(x), x.mean((2, 3), keepdim=True))


def test_sum_of_int64_stays_int64():
    declared, total = layer({"op": "sum", "dims": 2}, TensorType(("N", 3, "seq"), "int64"))
    assert (declared.shape, declared.dtype) == (("N", 3), "int64")
    x = torch.randint(0, 5, (2, 3, 4))
    assert torch.equal(total(x), x.sum(2))

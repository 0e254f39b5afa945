"""Symbolic dims evaluate to the sizes torch would compute."""

import pytest

from dlspec.analysis.dims import UnboundDim, bind, dim_names, dim_value
from dlspec.ir.types import TensorType, dim_affine, dim_mul
from dlspec.ops.conv import window_out


def test_expressions_built_by_shape_rules_evaluate():
    sizes = {"N": 3, "H": 224, "seq": 5}
    assert dim_value(dim_mul(64, "seq"), sizes) == 320
    assert dim_value(dim_affine("H", add=2 * 3 - 7, div=2), sizes) == 112  # conv 7x7/2 pad 3
    assert dim_value(window_out("H", 3, 2, 1), sizes) == window_out(224, 3, 2, 1)
    assert dim_value(17, sizes) == 17


def test_bind_makes_every_dim_a_number_and_names_are_found():
    tensor = TensorType(("N", "seq", dim_mul(4, "seq")), "int64")
    assert bind(tensor, {"N": 2, "seq": 7}) == TensorType((2, 7, 28), "int64")
    assert dim_names(tensor) == {"N", "seq"}
    with pytest.raises(UnboundDim) as missing:
        bind(tensor, {"N": 2})
    assert missing.value.name == "seq"

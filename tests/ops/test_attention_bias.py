"""Index and bias tensors built from a sequence's length, against their references: T5's
relative-position buckets (transformers' T5Attention), ALiBi's slopes (transformers' BLOOM),
the masks' 0 / lowest-float pattern, positions; a T5-style relative bias feeding attention."""

from __future__ import annotations

import math

import pytest
import torch
from reference_models import transformers_module

from dlspec.backends.torch_module import instantiate
from dlspec.ir.types import TensorType
from dlspec.ops.registry import op_registry

LOWEST = torch.finfo(torch.float32).min


def build(name: str, *types: TensorType, **config):
    return instantiate(op_registry()[name](**config).build(*types)).eval()


def seq(length="seq", width=4) -> TensorType:
    return TensorType(("N", length, width))


@pytest.mark.parametrize(("bidirectional", "num_buckets", "max_distance"),
                         [(True, 32, 128), (False, 32, 128), (True, 8, 20), (False, 16, 40)])
def test_buckets_equal_t5s(bidirectional, num_buckets, max_distance):
    transformers_module()
    from transformers.models.t5.modeling_t5 import T5Attention

    module = build("relative_position_buckets", seq(), seq("L"), bidirectional=bidirectional,
                   num_buckets=num_buckets, max_distance=max_distance)
    queries, keys = torch.zeros(2, 150, 4), torch.zeros(2, 300, 4)  # distances past 128
    got = module(queries, keys)
    offsets = torch.arange(300)[None, :] - torch.arange(150)[:, None]
    expected = T5Attention._relative_position_bucket(offsets, bidirectional, num_buckets,
                                                     max_distance)
    assert got.shape == (2, 150, 300) and got.dtype == torch.int64
    assert torch.equal(got[1], expected)
    assert got.max() == num_buckets - 1  # the far keys reach the last bucket


def test_relative_position_bias_is_its_table_looked_up_by_bucket():
    module = build("relative_position_bias", seq(), heads=3, num_buckets=8, max_distance=16)
    assert module.weight.shape == (8, 3)
    bias = module(torch.zeros(2, 5, 4))
    buckets = build("relative_position_buckets", seq(), num_buckets=8,
                    max_distance=16)(torch.zeros(1, 5, 4))[0]
    assert bias.shape == (2, 3, 5, 5)
    torch.testing.assert_close(bias[1], module.weight[buckets].permute(2, 0, 1))
    assert bias[0, :, 0, 1].tolist() != bias[0, :, 1, 0].tolist()  # the two directions differ


@pytest.mark.parametrize("heads", [8, 12, 3])
def test_alibi_slopes_equal_blooms(heads):
    transformers_module()
    from transformers.models.bloom.modeling_bloom import build_alibi_tensor

    module = build("alibi_bias", seq(), heads=heads)
    bias = module(torch.zeros(2, 6, 4))
    # BLOOM's alibi is slope_h * key position j (a per-query constant away from ours)
    reference = build_alibi_tensor(torch.ones(1, 6), heads, torch.float32).view(heads, 1, 6)
    slopes = reference[:, 0, 1]
    assert bias.shape == (2, heads, 6, 6)
    distance = (torch.arange(6)[None, :] - torch.arange(6)[:, None]).abs()
    torch.testing.assert_close(bias[1], -slopes[:, None, None] * distance)
    if heads == 8:
        assert slopes.tolist() == [2.0 ** (-h) for h in range(1, 9)]


def test_causal_and_window_masks_hide_what_they_should():
    x = torch.zeros(2, 5, 4)
    causal = build("causal_mask", seq())(x)
    assert causal.shape == (2, 1, 5, 5)
    hidden = torch.ones(5, 5, dtype=torch.bool).triu(1)
    assert torch.equal(causal[0, 0] == LOWEST, hidden) and (causal[0, 0][~hidden] == 0).all()
    sliding = build("causal_mask", seq(), window=1)(x)[0, 0]
    assert (sliding == 0).sum(-1).tolist() == [1, 2, 2, 2, 2]  # itself and one back
    local = build("window_mask", seq(), window=1)(x)[0, 0]
    assert (local == 0).sum(-1).tolist() == [2, 3, 3, 3, 2]


def test_arange_counts_positions_per_sample():
    ids = torch.zeros(3, 4, dtype=torch.long)
    positions = build("arange", TensorType(("N", "seq"), "int64"), start=2)(ids)
    assert positions.tolist() == [[2, 3, 4, 5]] * 3 and positions.dtype == torch.int64


def test_a_mask_and_a_relative_bias_add_into_attention():
    """causal_mask + relative_position_bias (add with broadcast over the heads) as the bias
    input of multi-head attention equals the causal attention with that bias."""
    heads, d = 2, 8
    bias_op = build("relative_position_bias", seq(width=d), heads=heads, bidirectional=False)
    mask = build("causal_mask", seq(width=d))
    attention = build("multihead_attention", seq(width=d),
                      TensorType(("N", heads, "seq", "seq")), heads=heads, scale=1.0)
    causal = build("multihead_attention", seq(width=d), TensorType(("N", heads, "seq", "seq")),
                   heads=heads, scale=1.0, causal=True)
    causal.load_state_dict(attention.state_dict())
    x = torch.randn(2, 6, d)
    bias = bias_op(x)
    torch.testing.assert_close(attention(x, bias + mask(x)), causal(x, bias))
    assert math.isfinite(attention(x, bias + mask(x)).abs().max().item())


@pytest.mark.parametrize(("config", "message"), [
    ({"num_buckets": 2}, "leaves no bucket for exact distances"),
    ({"num_buckets": 32, "max_distance": 8}, "must be above the 8 exact distances"),
    ({"num_buckets": 32, "max_distance": 16, "bidirectional": False},
     "must be above the 16 exact distances"),
])
def test_bucket_settings_t5_cannot_compute_are_refused(config, message):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        op_registry()["relative_position_bias"](heads=2, **config)

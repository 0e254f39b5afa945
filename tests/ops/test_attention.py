"""Attention numerics the op table cannot see: multi-head attention equals
nn.MultiheadAttention with the same weights (self and cross, causal and padding masks), masks
really hide what they hide, and the parameter-free and additive forms equal their formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from test_op_onnx import _export_case
from torch import nn

from dlspec.backends.torch_layers.attention import rotate
from dlspec.backends.torch_module import instantiate
from dlspec.ir.types import TensorType
from dlspec.ops.registry import op_registry

D, HEADS = 8, 2
MASK = TensorType(("N", "L"), "int64")


def build(name: str, types: tuple[TensorType, ...], **config) -> nn.Module:
    return instantiate(op_registry()[name](**config).build(*types)).eval()


def seq(length="seq", width=D) -> TensorType:
    return TensorType(("N", length, width))


def _reference(module: nn.Module, kdim: int) -> nn.MultiheadAttention:
    reference = nn.MultiheadAttention(D, HEADS, kdim=kdim, vdim=kdim, batch_first=True).eval()
    reference.load_state_dict(module.state_dict())  # same names and layout
    return reference


@pytest.mark.parametrize("kdim", [D, 5])
def test_cross_attention_equals_torchs_multihead_attention(kdim):
    module = build("multihead_attention", (seq(), seq("L", kdim), MASK), heads=HEADS)
    query, memory = torch.randn(2, 4, D), torch.randn(2, 6, kdim)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
    expected = _reference(module, kdim)(query, memory, memory, key_padding_mask=mask == 0,
                                        need_weights=False)[0]
    torch.testing.assert_close(module(query, memory, mask), expected)


def test_causal_self_attention_with_padding_equals_torchs():
    module = build("multihead_attention", (seq(), TensorType(("N", "seq"), "int64")),
                   heads=HEADS, causal=True)
    x = torch.randn(2, 5, D)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])  # right padding
    causal = torch.ones(5, 5, dtype=torch.bool).triu(1)  # True: not allowed
    expected = _reference(module, D)(x, x, x, key_padding_mask=mask == 0, attn_mask=causal,
                                     need_weights=False)[0]
    torch.testing.assert_close(module(x, mask), expected)


def test_causal_attention_does_not_see_the_future():
    module = build("multihead_attention", (seq(),), heads=HEADS, causal=True)
    x = torch.randn(1, 6, D)
    changed = x.clone()
    changed[:, 4:] = torch.randn(1, 2, D)
    before, after = module(x), module(changed)
    torch.testing.assert_close(before[:, :4], after[:, :4])
    assert not torch.allclose(before[:, 4:], after[:, 4:])


def test_padded_keys_get_no_attention():
    module = build("multihead_attention", (seq(), seq("L"), MASK), heads=HEADS)
    query, memory = torch.randn(1, 3, D), torch.randn(1, 5, D)
    mask = torch.tensor([[1, 1, 1, 0, 0]])
    changed = memory.clone()
    changed[:, 3:] = torch.randn(1, 2, D)
    torch.testing.assert_close(module(query, memory, mask), module(query, changed, mask))
    everything = torch.ones_like(mask)
    assert not torch.allclose(module(query, memory, everything),
                              module(query, changed, everything))


def test_a_fully_padded_sample_is_finite():
    module = build("multihead_attention", (seq(), seq("L"), MASK), heads=HEADS)
    out = module(torch.randn(1, 3, D), torch.randn(1, 4, D), torch.zeros(1, 4, dtype=torch.long))
    assert torch.isfinite(out).all()


def test_window_sees_only_near_keys():
    module = build("multihead_attention", (seq(),), heads=HEADS, window=1)
    x = torch.randn(1, 7, D)
    changed = x.clone()
    changed[:, 6] = torch.randn(D)  # position 6: within the window of 5 and 6 only
    before, after = module(x), module(changed)
    torch.testing.assert_close(before[:, :5], after[:, :5])
    assert not torch.allclose(before[:, 5], after[:, 5])


def test_rotary_attention_rotates_queries_and_keys_per_head():
    module = build("multihead_attention", (seq(),), heads=HEADS, rotary=True, rotary_base=100.0)
    x = torch.randn(2, 5, D)
    q, k, v = (t.unflatten(-1, (HEADS, -1)).transpose(1, 2) for t in
               F.linear(x, module.in_proj_weight, module.in_proj_bias).chunk(3, dim=-1))
    heads = F.scaled_dot_product_attention(rotate(q, 100.0), rotate(k, 100.0), v)
    torch.testing.assert_close(module(x), module.out_proj(heads.transpose(1, 2).flatten(2)))


@pytest.mark.parametrize("lead", [(), (3,)])
def test_scaled_dot_product_attention_equals_the_formula(lead):
    q, k, v = torch.randn(2, *lead, 4, 5), torch.randn(2, *lead, 4, 5), torch.randn(2, *lead, 4, 3)
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 1, 1]])
    types = tuple(TensorType(("N", *lead, "seq", t.shape[-1])) for t in (q, k, v))
    module = build("scaled_dot_product_attention", (*types, TensorType(("N", "seq"), "int64")),
                   causal=True, scale=0.5)
    scores = q @ k.transpose(-1, -2) * 0.5
    hidden = torch.ones(4, 4, dtype=torch.bool).triu(1) | (mask == 0).view(2, *[1] * len(lead),
                                                                             1, 4)
    expected = scores.masked_fill(hidden, -math.inf).softmax(-1) @ v
    torch.testing.assert_close(module(q, k, v, mask), expected)


def test_additive_attention_equals_bahdanaus_formula():
    module = build("additive_attention", (seq("seq", 3), seq("L", 4), MASK), attention_dim=6)
    query, keys = torch.randn(2, 5, 3), torch.randn(2, 7, 4)
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 4:] = 0
    energy = torch.tanh(module.query(query)[:, :, None] + module.key(keys)[:, None])
    scores = module.score(energy).squeeze(-1).masked_fill(mask[:, None] == 0, -math.inf)
    expected = scores.softmax(-1) @ keys
    torch.testing.assert_close(module(query, keys, mask), expected)
    torch.testing.assert_close(module(query[:, 0], keys, mask), expected[:, 0])  # (N, Dq) query


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(("name", "index"), [
    ("multihead_attention", 1),  # cross-attention with a padding mask
    ("multihead_attention", 2),  # window + rotary
    ("scaled_dot_product_attention", 1),  # window on (N, T, d)
])
def test_more_cases_export_to_onnx(name, index, tmp_path):
    report = _export_case(name, index, tmp_path)
    assert report.input_dims["input0"][:2] == ("batch", "seq")


def _heads(x: torch.Tensor, count: int) -> torch.Tensor:
    return x.unflatten(-1, (count, -1)).transpose(1, 2)


def test_attention_bias_is_added_to_the_scores_unscaled_and_grouped():
    """kv_heads=1 (multi-query): one key/value head serves both query heads; scale=1.0: no
    1/sqrt(d); the float (N, heads, T, S) input is added to the scores, with the causal mask."""
    bias_type = TensorType(("N", HEADS, "seq", "seq"))
    module = build("multihead_attention", (seq(), bias_type), heads=HEADS, kv_heads=1,
                   scale=1.0, causal=True)
    assert module.in_proj_weight.shape == (D + 2 * D // HEADS, D)
    x, bias = torch.randn(2, 5, D), torch.randn(2, HEADS, 5, 5)
    q, k, v = F.linear(x, module.in_proj_weight, module.in_proj_bias).split(
        [D, D // HEADS, D // HEADS], dim=-1)
    q, k, v = _heads(q, HEADS), _heads(k, 1), _heads(v, 1)  # k, v broadcast over the heads
    scores = q @ k.transpose(-1, -2) + bias
    scores = scores.masked_fill(torch.ones(5, 5, dtype=torch.bool).triu(1), -math.inf)
    expected = module.out_proj((scores.softmax(-1) @ v).transpose(1, 2).flatten(2))
    torch.testing.assert_close(module(x, bias), expected)
    # the bias really counts: another bias, another output
    assert not torch.allclose(module(x, bias), module(x, torch.zeros_like(bias)))


def test_scaled_dot_product_attention_adds_a_broadcast_bias():
    q, k, v = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 6, 5), torch.randn(2, 3, 6, 2)
    mask, bias = torch.tensor([[1] * 6, [1, 1, 1, 1, 0, 0]]), torch.randn(1, 3, 4, 6)
    types = (*(TensorType(("N", 3, t.shape[2], t.shape[3])) for t in (q, k, v)),
             TensorType(("N", 6), "int64"), TensorType((1, 3, 4, 6)))
    module = build("scaled_dot_product_attention", types)
    scores = (q @ k.transpose(-1, -2) / math.sqrt(5) + bias).masked_fill(
        (mask == 0)[:, None, None, :], -math.inf)
    torch.testing.assert_close(module(q, k, v, mask, bias), scores.softmax(-1) @ v)

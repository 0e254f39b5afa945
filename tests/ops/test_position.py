"""Position encodings against their formulas: Vaswani's sinusoids, the diffusion timestep's
sines and cosines, RoPE's rotations of feature
pairs (i, i + d/2), and learned tables sliced to the sequence's length; BERT's token types."""

from __future__ import annotations

import math

import pytest
import torch

from dlspec.backends.torch_module import instantiate
from dlspec.ir.types import TensorType
from dlspec.ops.registry import op_registry


def _module(name: str, shape: tuple, **config):
    op = op_registry()[name](**config)
    return instantiate(op.build(TensorType(shape))).eval()


def test_sinusoidal_equals_vaswanis_formula():
    seq, d, base = 7, 6, 500.0
    module = _module("sinusoidal_position", ("N", "seq", d), base=base)
    x = torch.randn(2, seq, d)
    expected = torch.empty(seq, d)
    for pos in range(seq):
        for i in range(d // 2):
            angle = pos / base ** (2 * i / d)
            expected[pos, 2 * i], expected[pos, 2 * i + 1] = math.sin(angle), math.cos(angle)
    torch.testing.assert_close(module(x) - x, expected.expand(2, seq, d))
    assert not list(module.parameters()) and not list(module.buffers())


@pytest.mark.parametrize("shape", [(4, 1), (4,)])
def test_timestep_embedding_is_sines_then_cosines_of_the_papers_frequencies(shape):
    """emb[n, i] = sin(t_n * P^(-i/h)), emb[n, h + i] = cos(t_n * P^(-i/h)), h = dim / 2."""
    dim, period = 6, 10000.0
    module = _module("timestep_embedding", ("N", *shape[1:]), dim=dim)
    t = torch.tensor([0, 1, 17, 999]).reshape(shape)
    expected = torch.empty(4, dim)
    for n, step in enumerate([0, 1, 17, 999]):
        for i in range(dim // 2):
            angle = step * period ** (-i / (dim // 2))
            expected[n, i], expected[n, dim // 2 + i] = math.sin(angle), math.cos(angle)
    torch.testing.assert_close(module(t), expected)
    torch.testing.assert_close(module(t.float()), expected)
    assert module(t)[0].tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]  # t = 0: sin 0, cos 0
    assert not list(module.parameters()) and not list(module.buffers())


def _rope_formula(x: torch.Tensor, base: float) -> torch.Tensor:
    """Rotate pairs (i, i + d/2) of every (seq, d) vector by pos * base^(-2i/d), by hand."""
    out = x.clone()
    seq, d = x.shape[-2], x.shape[-1]
    for pos in range(seq):
        for i in range(d // 2):
            theta = pos * base ** (-2 * i / d)
            a, b = x[..., pos, i], x[..., pos, i + d // 2]
            out[..., pos, i] = a * math.cos(theta) - b * math.sin(theta)
            out[..., pos, i + d // 2] = a * math.sin(theta) + b * math.cos(theta)
    return out


def test_rotary_equals_the_formula_per_head_and_keeps_norms():
    heads, d, seq = 2, 4, 6
    module = _module("rotary_position", ("N", "seq", heads * d), heads=heads, base=100.0)
    x = torch.randn(3, seq, heads * d)
    per_head = x.unflatten(-1, (heads, d)).transpose(1, 2)  # (N, heads, seq, d)
    expected = _rope_formula(per_head, 100.0).transpose(1, 2).flatten(2)
    out = module(x)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(out.unflatten(-1, (heads, d)).norm(dim=-1),
                               x.unflatten(-1, (heads, d)).norm(dim=-1))
    heads_first = _module("rotary_position", ("N", heads, "seq", d), base=100.0)
    torch.testing.assert_close(heads_first(per_head), _rope_formula(per_head, 100.0))


def test_rotary_scores_depend_on_relative_position_only():
    """<R(m) q, R(n) k> is the same for every (m, n) with the same m - n."""
    module = _module("rotary_position", ("N", "seq", 8))
    q, k = torch.randn(8), torch.randn(8)
    rotated_q, rotated_k = (module(v.expand(1, 10, 8))[0] for v in (q, k))
    torch.testing.assert_close(rotated_q[5] @ rotated_k[2], rotated_q[8] @ rotated_k[5])
    assert not torch.allclose(rotated_q[5] @ rotated_k[2], rotated_q[5] @ rotated_k[4])


def test_learned_position_adds_the_first_rows_of_its_table():
    module = _module("learned_position", ("N", "seq", 4), max_len=8)
    assert [name for name, _ in module.named_parameters()] == ["weight"]
    x = torch.randn(2, 5, 4)
    torch.testing.assert_close(module(x), x + module.weight[:5])


@pytest.mark.parametrize("with_ids", [False, True])
def test_token_type_embedding(with_ids):
    op = op_registry()["token_type_embedding"](types=2)
    x = torch.randn(2, 5, 4)
    ids = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 0, 1, 0]])
    types = (TensorType(("N", "seq"), "int64"),) if with_ids else ()
    module = instantiate(op.build(TensorType(("N", "seq", 4)), *types))
    out = module(x, ids) if with_ids else module(x)
    table = module.weight
    torch.testing.assert_close(out, x + (table[ids] if with_ids else table[0]))

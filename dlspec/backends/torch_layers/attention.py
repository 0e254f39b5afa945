"""Attention and transformer layers on torch's fused `scaled_dot_product_attention` (flash and
memory-efficient kernels on GPU), plus the fixed position encodings they use.

Masks: a padding mask is an int64/bool tensor (N, S) with 1 (true) for a real key and 0 for
padding. Masked scores get the dtype's most negative number rather than -inf, so a query that
sees no key at all (a fully padded row) averages uniformly instead of returning NaN.

Imports only torch and math, so its source can be copied into standalone Python."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def position_angles(length: int, half: int, base: float, like: torch.Tensor) -> torch.Tensor:
    """(length, half) angles pos * base^(-i/half): the sinusoidal and rotary encodings' phases."""
    step = torch.arange(half, device=like.device, dtype=torch.float32)
    frequency = torch.exp(step * (-math.log(base) / half))
    position = torch.arange(length, device=like.device, dtype=torch.float32)
    return position[:, None] * frequency[None, :]


def rotate(x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """RoPE over (..., seq, d): feature i and i + d/2 (GPT-NeoX/LLaMA layout) are rotated by
    pos * base^(-2i/d); norms and relative-position dot products are preserved."""
    half = x.shape[-1] // 2
    angles = position_angles(x.shape[-2], half, base, x)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    first, second = x[..., :half], x[..., half:]
    return torch.cat((first * cos - second * sin, first * sin + second * cos), dim=-1)


class SinusoidalPosition(nn.Module):
    """Adds Vaswani et al.'s fixed encoding, PE[p, 2i] = sin(p / base^(2i/D)),
    PE[p, 2i+1] = cos(p / base^(2i/D)), computed for the input's length: (N, seq, D) -> same."""

    def __init__(self, base: float = 10000.0):
        super().__init__()
        self.base = base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = position_angles(x.shape[1], x.shape[2] // 2, self.base, x)
        encoding = torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(1)
        return x + encoding.to(x.dtype)

    def extra_repr(self) -> str:
        return f"base={self.base}"


class TimestepEmbedding(nn.Module):
    """The sinusoidal embedding of timesteps (N,) or (N, 1), int or float -> (N, dim):
    sines then cosines of t * max_period^(-i/h), i = 0 .. h-1, h = dim / 2."""

    def __init__(self, dim: int, max_period: float = 10000.0):
        super().__init__()
        self.dim, self.max_period = dim, max_period

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        step = torch.arange(half, device=t.device, dtype=torch.float32)
        frequency = torch.exp(step * (-math.log(self.max_period) / half))
        angles = t.reshape(-1, 1).to(torch.float32) * frequency[None, :]  # (N, half)
        return torch.cat((angles.sin(), angles.cos()), dim=-1)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, max_period={self.max_period}"


class RotaryPosition(nn.Module):
    """RoPE on (N, seq, heads*d) split into `heads` groups, or on (N, heads, seq, d)."""

    def __init__(self, heads: int = 1, base: float = 10000.0, heads_first: bool = False):
        super().__init__()
        self.heads, self.base, self.heads_first = heads, base, heads_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.heads_first:
            return rotate(x, self.base)
        per_head = x.unflatten(-1, (self.heads, -1)).transpose(1, 2)  # (N, heads, seq, d)
        return rotate(per_head, self.base).transpose(1, 2).flatten(2)

    def extra_repr(self) -> str:
        return f"heads={self.heads}, base={self.base}"


def fused_attention(q, k, v, mask=None, causal=False, window=None, scale=None, dropout=0.0,
                    offset=0, bias=None):
    """Fused scaled dot-product attention of q (..., T, d) on k, v (..., S, d); `mask` (N, S)
    hides padded keys, `causal` later keys, `window` keys more than `window` steps away; `bias`
    (..., T, S), broadcast, is added to the scores. The queries are at positions offset..
    (decoding with cached keys: offset = S - T)."""
    if q.dim() == 3:  # (N, T, d): as one head, since ONNX export converts 4-D attention only
        return fused_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1), mask, causal,
                               window, scale, dropout, offset,
                               None if bias is None else bias.unsqueeze(1)).squeeze(1)
    if mask is None and window is None and bias is None and (offset == 0 or not causal):
        # no explicit mask: the flash kernel applies
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=causal,
                                              scale=scale)
    keep = None
    if causal or window is not None:
        query_pos = torch.arange(offset, offset + q.shape[-2], device=q.device)[:, None]
        key_pos = torch.arange(k.shape[-2], device=q.device)[None, :]
        if causal:
            keep = key_pos <= query_pos
        if window is not None:
            near = (query_pos - key_pos).abs() <= window
            keep = near if keep is None else keep & near
    if mask is not None:
        real = (mask != 0)[:, None, None, :]  # (N, S) -> (N, 1, 1, S)
        keep = real if keep is None else keep & real
    lowest = torch.finfo(q.dtype).min
    if bias is None:
        scores = (~keep).to(q.dtype) * lowest
    else:
        scores = bias.to(q.dtype)
        if keep is not None:
            scores = torch.where(keep, scores, torch.tensor(lowest, dtype=q.dtype,
                                                            device=q.device))
    return F.scaled_dot_product_attention(q, k, v, attn_mask=scores, dropout_p=dropout,
                                          scale=scale)


def float_extras(rest) -> tuple:
    """(mask, bias) among extra attention inputs: the int64 one, the floating one."""
    mask = next((t for t in rest if not t.is_floating_point()), None)
    bias = next((t for t in rest if t.is_floating_point()), None)
    return mask, bias


class ScaledDotProductAttention(nn.Module):
    """softmax(q k^T * scale + bias + mask) v on given q, k, v, with an optional padding mask
    and an optional additive float bias."""

    def __init__(self, causal: bool = False, window: int | None = None,
                 scale: float | None = None, dropout: float = 0.0):
        super().__init__()
        self.causal, self.window, self.scale, self.dropout = causal, window, scale, dropout

    def forward(self, q, k, v, *extras):
        mask, bias = float_extras(extras)
        return fused_attention(q, k, v, mask, self.causal, self.window, self.scale,
                               self.dropout if self.training else 0.0, bias=bias)


def repeat_heads(x: torch.Tensor, times: int) -> torch.Tensor:
    """(N, h, S, d) -> (N, h * times, S, d), each head `times` times in a row (the key/value
    heads of grouped-query attention, each serving `times` query heads)."""
    if times == 1:
        return x
    return x.unsqueeze(2).expand(-1, -1, times, -1, -1).flatten(1, 2)


class MultiheadAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention's parameters (same names, layout and initialization), batch first,
    computed with the fused kernel. Called as (x[, mask][, bias]) for self-attention or
    (query, memory[, mask][, bias]) for cross-attention when built with `cross=True`; mask an
    int64 (N, S) padding mask, bias a float (N, heads, T, S) added to the scores.

    With `kv_heads` below `num_heads` (grouped-query attention) keys and values have kv_heads
    heads: in_proj_weight is [W_q; W_k; W_v] of (d + 2 * kv_heads * d / heads) rows."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 kdim: int | None = None, vdim: int | None = None, causal: bool = False,
                 window: int | None = None, rotary: bool = False, rotary_base: float = 10000.0,
                 cross: bool = False, kv_heads: int | None = None, scale: float | None = None):
        super().__init__(embed_dim, num_heads, dropout=dropout, bias=bias, kdim=kdim,
                         vdim=vdim, batch_first=True)
        self.causal, self.window, self.cross = causal, window, cross
        self.rotary, self.rotary_base, self.scale = rotary, rotary_base, scale
        self.kv_heads = kv_heads or num_heads
        if self.kv_heads != num_heads:
            self._group_keys_and_values(bias)

    def _group_keys_and_values(self, bias: bool) -> None:
        kv, like = self.kv_heads * self.head_dim, self.out_proj.weight

        def parameter(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.empty(*shape, device=like.device, dtype=like.dtype))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = parameter(self.embed_dim + 2 * kv, self.embed_dim)
        else:
            self.k_proj_weight = parameter(kv, self.kdim)
            self.v_proj_weight = parameter(kv, self.vdim)
        if bias:
            self.in_proj_bias = parameter(self.embed_dim + 2 * kv)
        self._reset_parameters()

    def forward(self, query: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        memory = rest[0] if self.cross else query
        mask, bias = float_extras(rest[1:] if self.cross else rest)
        return self.attend(query, memory, mask, bias)

    def attend(self, query, memory, mask=None, bias=None) -> torch.Tensor:
        q, k, v = self.project_heads(query, memory)  # (N, heads, len, d)
        if self.rotary:
            q, k = rotate(q, self.rotary_base), rotate(k, self.rotary_base)
        out = fused_attention(q, k, v, mask, self.causal, self.window, self.scale,
                              self.dropout if self.training else 0.0, bias=bias)
        return self.out_proj(out.transpose(1, 2).flatten(2))

    def project_heads(self, query, memory) -> list[torch.Tensor]:
        """q (N, heads, T, d) from `query`, k and v (N, heads, S, d) from `memory` (key/value
        heads repeated for the query heads they serve)."""
        sizes = [self.embed_dim] + [self.kv_heads * self.head_dim] * 2
        biases = (None,) * 3 if self.in_proj_bias is None else self.in_proj_bias.split(sizes)
        if not self._qkv_same_embed_dim:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        elif memory is query:  # one packed projection
            packed = F.linear(query, self.in_proj_weight, self.in_proj_bias).split(sizes, -1)
            weights = None
        else:
            weights = self.in_proj_weight.split(sizes)
        if weights is not None:
            packed = [F.linear(t, w, b) for t, w, b in zip((query, memory, memory), weights,
                                                            biases, strict=True)]
        repeat = self.num_heads // self.kv_heads
        return [repeat_heads(t.unflatten(-1, (count, -1)).transpose(1, 2), times)
                for t, count, times in zip(packed, (self.num_heads, self.kv_heads,
                                                    self.kv_heads), (1, repeat, repeat),
                                           strict=True)]


ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu,
               "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}


class _Block(nn.Module):
    """What encoder and decoder blocks share: self-attention, with `memory_dim` a
    cross-attention on a memory of that width, the feed-forward sublayer (linear1, activation,
    dropout, linear2; gated: linear1 makes [gate; up], activation(gate) * up), and residual
    sublayers with the norm (layer norm or RMS norm) before (pre) or after (post).
    Parameters are made in torch's order, under torch's names."""

    def __init__(self, d_model: int, heads: int, ffn: int, activation: str = "relu",
                 dropout: float = 0.1, norm: str = "post", eps: float = 1e-5, bias: bool = True,
                 causal: bool = False, window: int | None = None, rotary: bool = False,
                 rotary_base: float = 10000.0, memory_dim: int | None = None,
                 kv_heads: int | None = None, scale: float | None = None,
                 norm_type: str = "layernorm", gated: bool = False):
        super().__init__()
        attention = {"kv_heads": kv_heads, "scale": scale}
        self.self_attn = MultiheadAttention(d_model, heads, dropout, bias, causal=causal,
                                            window=window, rotary=rotary,
                                            rotary_base=rotary_base, **attention)
        if memory_dim is not None:
            self.multihead_attn = MultiheadAttention(d_model, heads, dropout, bias,
                                                     kdim=memory_dim, vdim=memory_dim,
                                                     cross=True, **attention)
        self.linear1 = nn.Linear(d_model, ffn * (1 + gated), bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn, d_model, bias=bias)
        for i in range(1, 3 + (memory_dim is not None)):
            self.add_module(f"norm{i}", nn.RMSNorm(d_model, eps=eps) if norm_type == "rmsnorm"
                            else nn.LayerNorm(d_model, eps=eps, bias=bias))
            self.add_module(f"dropout{i}", nn.Dropout(dropout))
        self.activation, self.norm_first, self.gated = activation, norm == "pre", gated

    def residual(self, x, index: int, sublayer) -> torch.Tensor:
        norm, dropout = getattr(self, f"norm{index}"), getattr(self, f"dropout{index}")
        if self.norm_first:
            return x + dropout(sublayer(norm(x)))
        return norm(x + dropout(sublayer(x)))

    def feed_forward(self, x) -> torch.Tensor:
        hidden = self.linear1(x)
        if self.gated:
            gate, up = hidden.chunk(2, dim=-1)
            hidden = ACTIVATIONS[self.activation](gate) * up
        else:
            hidden = ACTIVATIONS[self.activation](hidden)
        return self.linear2(self.dropout(hidden))

    def extra_repr(self) -> str:
        return f"activation={self.activation}, norm_first={self.norm_first}, gated={self.gated}"


class TransformerEncoderBlock(_Block):
    """nn.TransformerEncoderLayer's parameters (same names), batch first, on the fused kernel:
    self-attention then feed-forward, each residual. Called as (x[, mask][, bias])."""

    def forward(self, x: torch.Tensor, *extras: torch.Tensor) -> torch.Tensor:
        mask, bias = float_extras(extras)
        x = self.residual(x, 1, lambda h: self.self_attn.attend(h, h, mask, bias))
        return self.residual(x, 2, self.feed_forward)


class TransformerDecoderBlock(_Block):
    """nn.TransformerDecoderLayer's parameters (same names), batch first, on the fused kernel:
    masked self-attention (plus `bias`, when given), cross-attention on the memory (hiding
    the keys `memory_mask` marks as padding), feed-forward. Called as (x, memory[,
    memory_mask][, bias])."""

    def __init__(self, d_model: int, heads: int, ffn: int, memory_dim: int,
                 causal: bool = True, **options):
        super().__init__(d_model, heads, ffn, causal=causal, memory_dim=memory_dim, **options)

    def forward(self, x: torch.Tensor, memory: torch.Tensor,
                *extras: torch.Tensor) -> torch.Tensor:
        memory_mask, bias = float_extras(extras)
        x = self.residual(x, 1, lambda h: self.self_attn.attend(h, h, bias=bias))
        x = self.residual(x, 2, lambda h: self.multihead_attn.attend(h, memory, memory_mask))
        return self.residual(x, 3, self.feed_forward)


class PaddingMask(nn.Module):
    """The padding mask of token ids: 1 (int64) where the id is not `pad`, 0 where it is."""

    def __init__(self, pad: int = 0):
        super().__init__()
        self.pad = pad

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return (ids != self.pad).long()

    def extra_repr(self) -> str:
        return f"pad={self.pad}"

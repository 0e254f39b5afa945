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
                    offset=0):
    """Fused scaled dot-product attention of q (..., T, d) on k, v (..., S, d); `mask` (N, S)
    hides padded keys, `causal` later keys, `window` keys more than `window` steps away. The
    queries are at positions offset.. (decoding with cached keys: offset = S - T)."""
    if q.dim() == 3:  # (N, T, d): as one head, since ONNX export converts 4-D attention only
        return fused_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1), mask, causal,
                               window, scale, dropout, offset).squeeze(1)
    if mask is None and window is None and (offset == 0 or not causal):
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
    bias = (~keep).to(q.dtype) * torch.finfo(q.dtype).min
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout,
                                          scale=scale)


class ScaledDotProductAttention(nn.Module):
    """softmax(q k^T * scale + mask) v on given q, k, v, with an optional padding mask."""

    def __init__(self, causal: bool = False, window: int | None = None,
                 scale: float | None = None, dropout: float = 0.0):
        super().__init__()
        self.causal, self.window, self.scale, self.dropout = causal, window, scale, dropout

    def forward(self, q, k, v, mask=None):
        return fused_attention(q, k, v, mask, self.causal, self.window, self.scale,
                               self.dropout if self.training else 0.0)


class MultiheadAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention's parameters (same names, layout and initialization), batch first,
    computed with the fused kernel. Called as (x[, mask]) for self-attention or
    (query, memory[, mask]) for cross-attention when built with `cross=True`."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 kdim: int | None = None, vdim: int | None = None, causal: bool = False,
                 window: int | None = None, rotary: bool = False, rotary_base: float = 10000.0,
                 cross: bool = False):
        super().__init__(embed_dim, num_heads, dropout=dropout, bias=bias, kdim=kdim,
                         vdim=vdim, batch_first=True)
        self.causal, self.window, self.cross = causal, window, cross
        self.rotary, self.rotary_base = rotary, rotary_base

    def forward(self, query: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        memory = rest[0] if self.cross else query
        mask = rest[-1] if len(rest) > self.cross else None
        return self.attend(query, memory, mask)

    def attend(self, query, memory, mask=None) -> torch.Tensor:
        q, k, v = (t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)
                   for t in self._project(query, memory))  # (N, heads, len, d)
        if self.rotary:
            q, k = rotate(q, self.rotary_base), rotate(k, self.rotary_base)
        out = fused_attention(q, k, v, mask, self.causal, self.window,
                              dropout=self.dropout if self.training else 0.0)
        return self.out_proj(out.transpose(1, 2).flatten(2))

    def _project(self, query, memory):
        biases = (None,) * 3 if self.in_proj_bias is None else self.in_proj_bias.chunk(3)
        if not self._qkv_same_embed_dim:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
            return [F.linear(t, w, b) for t, w, b in zip((query, memory, memory), weights,
                                                          biases, strict=True)]
        if memory is query:  # one packed projection
            return F.linear(query, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        return [F.linear(t, w, b) for t, w, b in zip((query, memory, memory), (w_q, w_k, w_v),
                                                      biases, strict=True)]


ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu,
               "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}


class _Block(nn.Module):
    """What encoder and decoder blocks share: self-attention, with `memory_dim` a
    cross-attention on a memory of that width, the feed-forward sublayer (linear1, activation,
    dropout, linear2), and residual sublayers with the norm before (pre) or after (post).
    Parameters are made in torch's order, under torch's names."""

    def __init__(self, d_model: int, heads: int, ffn: int, activation: str = "relu",
                 dropout: float = 0.1, norm: str = "post", eps: float = 1e-5, bias: bool = True,
                 causal: bool = False, window: int | None = None, rotary: bool = False,
                 rotary_base: float = 10000.0, memory_dim: int | None = None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, heads, dropout, bias, causal=causal,
                                            window=window, rotary=rotary,
                                            rotary_base=rotary_base)
        if memory_dim is not None:
            self.multihead_attn = MultiheadAttention(d_model, heads, dropout, bias,
                                                     kdim=memory_dim, vdim=memory_dim,
                                                     cross=True)
        self.linear1 = nn.Linear(d_model, ffn, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn, d_model, bias=bias)
        for i in range(1, 3 + (memory_dim is not None)):
            self.add_module(f"norm{i}", nn.LayerNorm(d_model, eps=eps, bias=bias))
            self.add_module(f"dropout{i}", nn.Dropout(dropout))
        self.activation, self.norm_first = activation, norm == "pre"

    def residual(self, x, index: int, sublayer) -> torch.Tensor:
        norm, dropout = getattr(self, f"norm{index}"), getattr(self, f"dropout{index}")
        if self.norm_first:
            return x + dropout(sublayer(norm(x)))
        return norm(x + dropout(sublayer(x)))

    def feed_forward(self, x) -> torch.Tensor:
        return self.linear2(self.dropout(ACTIVATIONS[self.activation](self.linear1(x))))

    def extra_repr(self) -> str:
        return f"activation={self.activation}, norm_first={self.norm_first}"


class TransformerEncoderBlock(_Block):
    """nn.TransformerEncoderLayer's parameters (same names), batch first, on the fused kernel:
    self-attention then feed-forward, each residual. Called as (x[, mask])."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.residual(x, 1, lambda h: self.self_attn.attend(h, h, mask))
        return self.residual(x, 2, self.feed_forward)


class TransformerDecoderBlock(_Block):
    """nn.TransformerDecoderLayer's parameters (same names), batch first, on the fused kernel:
    masked self-attention, cross-attention on the memory, feed-forward. Called as
    (x, memory[, memory_mask])."""

    def __init__(self, d_model: int, heads: int, ffn: int, memory_dim: int,
                 causal: bool = True, **options):
        super().__init__(d_model, heads, ffn, causal=causal, memory_dim=memory_dim, **options)

    def forward(self, x: torch.Tensor, memory: torch.Tensor,
                memory_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.residual(x, 1, lambda h: self.self_attn.attend(h, h))
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

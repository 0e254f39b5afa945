"""Attention: additive (Bahdanau), scaled dot-product, and multi-head self/cross-attention.

A padding mask is an extra int64 input (N, S), one value per key: 1 (any non-zero) for a real
token, 0 for padding; padded keys get no attention weight. It is told apart from a memory
input by its dtype, so a multi-head attention layer takes [x], [x, mask], [query, memory] or
[query, memory, mask].
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, PositiveFloat

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.base import (
    Build,
    InputRole,
    Op,
    PositiveInt,
    Probability,
    expect_float,
    expect_rank,
    expect_sequence,
    known,
    numel,
)
from dlspec.ops.position import base_field, expect_even

LAYERS = "dlspec.backends.torch_layers.attention"


def check_mask(mask: TensorType, keys: TensorType) -> None:
    """A padding mask must be int64 (N, S) with S the keys' length."""
    if mask.dtype != "int64":
        raise RuleError(f"a padding mask must be int64, got {mask.dtype} {mask}", code="DLS202",
                        hint="declare the mask input with `dtype: int64` (1 = token, 0 = pad)")
    if mask.rank != 2 or mask.shape[1] != keys.shape[-2]:
        raise RuleError(f"padding mask {mask} does not fit keys {keys}: it needs one value "
                        f"per key, (N, {keys.shape[-2]})")


def window_field():
    return Field(None, description="Local (sliding-window) attention: a query at "
                 "position i sees only keys j with |i - j| <= window (with causal: "
                 "i - window <= j <= i).")


def mha_param_shapes(d: int, kdim: int, bias: bool, prefix: str = "") -> dict[str, tuple[int, ...]]:
    """nn.MultiheadAttention's parameters: q, k, v projections to d (keys and values from
    kdim features; packed in one matrix when kdim is d), their 3d biases, and the d x d
    output projection with its bias. Names start with `prefix` (`self_attn.`)."""
    shapes: dict[str, tuple[int, ...]] = {"in_proj_weight": (3 * d, d)} if kdim == d else {
        "q_proj_weight": (d, d), "k_proj_weight": (d, kdim), "v_proj_weight": (d, kdim)}
    if bias:
        shapes["in_proj_bias"] = (3 * d,)
    shapes["out_proj.weight"] = (d, d)
    if bias:
        shapes["out_proj.bias"] = (d,)
    return {prefix + name: shape for name, shape in shapes.items()}


def mha_macs(batch: int, queries: int, keys: int, d: int, kdim: int) -> int:
    """Projections (q, out over the queries; k, v over the keys) plus q k^T and weights v."""
    return batch * (2 * queries * d * d + 2 * keys * kdim * d + 2 * queries * keys * d)


class AttentionOptions(Op):
    """The attributes of multi-head attention, shared with the transformer blocks."""

    heads: PositiveInt = Field(description="Attention heads; d_model must divide by it.")
    dropout: Probability = Field(0.0, description="Dropout on the attention weights "
                                 "(training only).")
    bias: bool = Field(True, description="Learn biases of the projections.")
    causal: bool = Field(False, description="Self-attention only sees the past: query i "
                         "attends to keys j <= i (language models, decoders).")
    window: PositiveInt | None = window_field()
    rotary: bool = Field(False, description="Apply rotary position embedding (RoPE) to the "
                         "queries and keys of each head in self-attention.")
    rotary_base: float = base_field()

    def check_heads(self, d: int) -> None:
        if d % self.heads:
            raise RuleError(f"d_model {d} is not divisible by heads={self.heads}",
                            code="DLS102", hint="pick heads that divide the input's features")
        if self.rotary:
            expect_even(d // self.heads, "the per-head size with rotary")

    def input_roles(self, *inputs: TensorType) -> tuple[InputRole | None, ...]:
        return mask_roles(inputs)

    def attention_kwargs(self) -> dict:
        return {"dropout": self.dropout, "bias": self.bias, "causal": self.causal,
                "window": self.window, "rotary": self.rotary, "rotary_base": self.rotary_base}


def mask_roles(inputs: tuple[TensorType, ...]) -> tuple[InputRole | None, ...]:
    """Attention layers take int64 inputs only as padding masks."""
    return tuple(InputRole("mask") if t.dtype == "int64" else None for t in inputs)


def split_inputs(inputs: tuple[TensorType, ...]):
    """(query, memory or None, mask or None) from [x], [x, mask], [q, memory], [q, memory, mask]."""
    query, rest = inputs[0], list(inputs[1:])
    mask = rest.pop() if rest and rest[-1].dtype == "int64" else None
    return query, (rest[0] if rest else None), mask


class MultiheadAttention(AttentionOptions):
    """Multi-head attention with nn.MultiheadAttention's parameters: (N, T, D) [, memory
    (N, S, Dm)] [, mask (N, S)] -> (N, T, D)."""

    op: Literal["multihead_attention"] = "multihead_attention"
    max_inputs: ClassVar[int | None] = 3

    def infer(self, *inputs: TensorType) -> TensorType:
        query, memory, mask = split_inputs(inputs)
        self.check_heads(expect_sequence(query))
        if memory is not None:
            expect_sequence(memory)
            for name in ("causal", "window", "rotary"):
                if getattr(self, name):
                    raise RuleError(f"`{name}` applies to self-attention, but this layer "
                                    "attends to a memory input", code="DLS102")
        if mask is not None:
            check_mask(mask, query if memory is None else memory)
        return query

    def build(self, *inputs: TensorType) -> Build:
        query, memory, _ = split_inputs(inputs)
        kdim = memory.shape[2] if memory is not None else None
        return Build(f"{LAYERS}.MultiheadAttention", {
            "embed_dim": query.shape[2], "num_heads": self.heads, "kdim": kdim, "vdim": kdim,
            "cross": memory is not None, **self.attention_kwargs()})

    def param_shapes(self, *inputs: TensorType) -> dict[str, tuple[int, ...]]:
        query, memory, _ = split_inputs(inputs)
        return mha_param_shapes(query.shape[2], (query if memory is None else memory).shape[2], self.bias)

    def macs(self, *inputs: TensorType) -> int:
        query, memory, _ = split_inputs(inputs)
        keys = query if memory is None else memory
        return mha_macs(query.shape[0], query.shape[1], keys.shape[1], query.shape[2],
                        keys.shape[2])


class ScaledDotProductAttention(Op):
    """softmax(q k^T * scale) v on given q (N, [heads,] T, d), k (N, [heads,] S, d),
    v (N, [heads,] S, dv) [, mask (N, S)] -> (N, [heads,] T, dv); no parameters."""

    op: Literal["scaled_dot_product_attention"] = "scaled_dot_product_attention"
    causal: bool = Field(False, description="Query i attends to keys j <= i (needs T = S).")
    window: PositiveInt | None = window_field()
    scale: PositiveFloat | None = Field(
        None, description="Factor on the scores; default 1/sqrt(d). 1.0 gives plain "
        "dot-product (Luong) attention.")
    dropout: Probability = Field(0.0, description="Dropout on the attention weights "
                                 "(training only).")
    min_inputs: ClassVar[int] = 3
    max_inputs: ClassVar[int | None] = 4

    def infer(self, q: TensorType, k: TensorType, v: TensorType, *mask: TensorType):
        layout = "(N, T, d) or (N, heads, T, d)"
        for t in (q, k, v):
            expect_rank(t, (3, 4), layout)
            expect_float(t)
        if not q.rank == k.rank == v.rank or not q.shape[:-2] == k.shape[:-2] == v.shape[:-2]:
            raise RuleError(f"q {q}, k {k} and v {v} must agree in every dim but the last two")
        if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
            raise RuleError(f"q {q} and k {k} need the same d, k and v the same length S")
        if (self.causal or self.window is not None) and q.shape[-2] != k.shape[-2]:
            raise RuleError(f"causal and window masks need as many queries as keys, got "
                            f"{q.shape[-2]} and {k.shape[-2]}")
        for m in mask:
            check_mask(m, k)
        return q.with_shape(*q.shape[:-1], v.shape[-1])

    def input_roles(self, *inputs: TensorType) -> tuple[InputRole | None, ...]:
        return mask_roles(inputs)

    def build(self, *inputs: TensorType) -> Build:
        return Build(f"{LAYERS}.ScaledDotProductAttention", {
            "causal": self.causal, "window": self.window, "scale": self.scale,
            "dropout": self.dropout})

    def macs(self, q: TensorType, k: TensorType, v: TensorType, *mask: TensorType) -> int:
        return numel(q.shape[:-1]) * k.shape[-2] * (q.shape[-1] + v.shape[-1])


class AdditiveAttention(Op):
    """Bahdanau attention, v^T tanh(W_q q + W_k k): query (N, Dq) or (N, T, Dq), keys (N, S, Dk)
    [, mask (N, S)] -> context, the weighted sum of keys, (N, Dk) or (N, T, Dk)."""

    op: Literal["additive_attention"] = "additive_attention"
    attention_dim: PositiveInt | None = Field(
        None, description="Size of the hidden layer the scores are computed in; default Dk.")
    bias: bool = Field(True, description="Learn biases of W_q, W_k and v (as the PyTorch "
                       "seq2seq tutorial); false: the paper's bias-free form.")
    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = 3

    def infer(self, query: TensorType, keys: TensorType, *mask: TensorType) -> TensorType:
        expect_rank(query, (2, 3), "(N, Dq) or (N, T, Dq)")
        expect_float(query)
        self._dims(query, keys)
        for m in mask:
            check_mask(m, keys)
        return query.with_shape(*query.shape[:-1], keys.shape[2])

    def _dims(self, query: TensorType, keys: TensorType) -> tuple[int, int, int]:
        """(Dq, Dk, attention dim)."""
        key_dim = expect_sequence(keys)
        query_dim = known(query.shape[-1], "the query's features")
        return query_dim, key_dim, self.attention_dim or key_dim

    def input_roles(self, *inputs: TensorType) -> tuple[InputRole | None, ...]:
        return mask_roles(inputs)

    def build(self, query: TensorType, keys: TensorType, *mask: TensorType) -> Build:
        query_dim, key_dim, attention_dim = self._dims(query, keys)
        return Build("dlspec.backends.torch_layers.sequence.AdditiveAttention", {
            "query_dim": query_dim, "key_dim": key_dim, "attention_dim": attention_dim,
            "bias": self.bias})

    def param_shapes(self, query: TensorType, keys: TensorType,
                     *mask: TensorType) -> dict[str, tuple[int, ...]]:
        query_dim, key_dim, attention_dim = self._dims(query, keys)
        shapes = {"query.weight": (attention_dim, query_dim), "query.bias": (attention_dim,),
                  "key.weight": (attention_dim, key_dim), "key.bias": (attention_dim,),
                  "score.weight": (1, attention_dim), "score.bias": (1,)}
        return {name: shape for name, shape in shapes.items()
                if self.bias or not name.endswith("bias")}

    def macs(self, query: TensorType, keys: TensorType, *mask: TensorType) -> int:
        query_dim, key_dim, attention_dim = self._dims(query, keys)
        n, s = keys.shape[0], keys.shape[1]
        t = query.shape[1] if query.rank == 3 else 1
        return n * (t * query_dim * attention_dim + s * key_dim * attention_dim
                    + t * s * (attention_dim + key_dim))

"""Attention: additive (Bahdanau), scaled dot-product, and multi-head self/cross-attention.

A padding mask is an extra int64 input (N, S), one value per key: 1 (any non-zero) for a real
token, 0 for padding; padded keys get no attention weight. An attention bias is an extra float
input (N, heads, T, S) added to the scores before the softmax (a relative position bias, ALiBi,
a causal or window mask as 0 / -inf); its batch and heads dims may be 1 (broadcast). Inputs
after the first are told apart by dtype and rank: int64 is the mask, a float of rank 4 the
bias, a float of rank 3 the memory; so a multi-head attention layer takes [x], [x, mask],
[query, memory], [query, memory, mask], each with a bias after it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, PositiveFloat

from dlspec.errors import RuleError
from dlspec.ir.types import Dim, TensorType
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


def check_bias(bias: TensorType, lead: tuple[Dim, ...], queries: Dim, keys: Dim) -> None:
    """An additive attention bias must be float (*lead, T, S), each lead dim its size or 1."""
    expect_float(bias)
    want = (*lead, queries, keys)
    fits = bias.rank == len(want) and tuple(bias.shape[-2:]) == (queries, keys) and all(
        b in (1, w) for b, w in zip(bias.shape[:-2], lead, strict=False))
    if not fits:
        shape = ", ".join(str(d) for d in want)
        raise RuleError(f"attention bias {bias} does not fit the scores ({shape}): one value "
                        "per query and key, its leading dims as the scores' or 1")


def split_extras(extras: tuple[TensorType, ...], memory_ok: bool = False):
    """(memory, mask, bias) among the inputs after the query: int64 is the padding mask, a
    float of rank 4 (of any rank where no memory is taken) the attention bias, any other float
    the memory."""
    found: dict[str, TensorType] = {}
    for t in extras:
        kind = "mask" if t.dtype == "int64" else \
            "bias" if t.rank == 4 or not memory_ok else "memory"
        if kind in found:
            raise RuleError(f"unexpected input {t}: after the query this layer takes at most "
                            f"{'one memory (N, S, D), ' if memory_ok else ''}one int64 padding "
                            "mask (N, S) and one float attention bias (N, heads, T, S)",
                            code="DLS202")
        found[kind] = t
    return found.get("memory"), found.get("mask"), found.get("bias")


def window_field():
    return Field(None, description="Local (sliding-window) attention: a query at "
                 "position i sees only keys j with |i - j| <= window (with causal: "
                 "i - window <= j <= i).")


def mha_param_shapes(d: int, kdim: int, bias: bool, prefix: str = "",
                     kv: int | None = None) -> dict[str, tuple[int, ...]]:
    """nn.MultiheadAttention's parameters: the q projection to d, k and v projections to kv
    (d, less with grouped-query attention; keys and values from kdim features), packed in
    one matrix [q; k; v] when kdim is d, their biases, and the d x d output projection with its
    bias. Names start with `prefix` (`self_attn.`)."""
    kv = kv or d
    shapes: dict[str, tuple[int, ...]] = {"in_proj_weight": (d + 2 * kv, d)} if kdim == d \
        else {"q_proj_weight": (d, d), "k_proj_weight": (kv, kdim), "v_proj_weight": (kv, kdim)}
    if bias:
        shapes["in_proj_bias"] = (d + 2 * kv,)
    shapes["out_proj.weight"] = (d, d)
    if bias:
        shapes["out_proj.bias"] = (d,)
    return {prefix + name: shape for name, shape in shapes.items()}


def mha_macs(batch: int, queries: int, keys: int, d: int, kdim: int, kv: int | None = None) -> int:
    """Projections (q, out over the queries; k, v over the keys) plus q k^T and weights v."""
    return batch * (2 * queries * d * d + 2 * keys * kdim * (kv or d) + 2 * queries * keys * d)


class AttentionOptions(Op):
    """The attributes of multi-head attention, shared with the transformer blocks."""

    heads: PositiveInt = Field(description="Attention heads; d_model must divide by it.")
    kv_heads: PositiveInt | None = Field(
        None, description="Heads of the keys and values, each shared by heads / kv_heads query "
        "heads: grouped-query attention (GQA; LLaMA 2 70B); 1: multi-query attention (MQA); "
        "default heads.")
    scale: PositiveFloat | None = Field(
        None, description="Factor on the scores q k^T; default 1/sqrt(d) of a head. 1.0: "
        "unscaled (T5, which folds the factor into its query weights).")
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
        if self.kv_heads is not None and self.heads % self.kv_heads:
            raise RuleError(f"heads={self.heads} is not divisible by kv_heads={self.kv_heads}",
                            code="DLS102", hint="each key/value head serves heads / kv_heads "
                            "query heads: pick kv_heads that divides heads")

    def kv_width(self, d: int) -> int:
        """Features of the keys and values: kv_heads heads of d / heads."""
        return (self.kv_heads or self.heads) * (d // self.heads)

    def input_roles(self, *inputs: TensorType) -> tuple[InputRole | None, ...]:
        return mask_roles(inputs)

    def attention_kwargs(self) -> dict:
        return {"dropout": self.dropout, "bias": self.bias, "causal": self.causal,
                "window": self.window, "rotary": self.rotary, "rotary_base": self.rotary_base,
                "kv_heads": self.kv_heads, "scale": self.scale}


def mask_roles(inputs: tuple[TensorType, ...]) -> tuple[InputRole | None, ...]:
    """Attention layers take int64 inputs only as padding masks."""
    return tuple(InputRole("mask") if t.dtype == "int64" else None for t in inputs)


def split_inputs(inputs: tuple[TensorType, ...]):
    """(query, memory, mask, bias), each but the query None when absent."""
    return inputs[0], *split_extras(inputs[1:], memory_ok=True)


class MultiheadAttention(AttentionOptions):
    """Multi-head attention with nn.MultiheadAttention's parameters: (N, T, D) [, memory
    (N, S, Dm)] [, mask (N, S)] [, bias (N, heads, T, S)] -> (N, T, D)."""

    op: Literal["multihead_attention"] = "multihead_attention"
    max_inputs: ClassVar[int | None] = 4

    def infer(self, *inputs: TensorType) -> TensorType:
        query, memory, mask, bias = split_inputs(inputs)
        self.check_heads(expect_sequence(query))
        if memory is not None:
            expect_sequence(memory)
            for name in ("causal", "window", "rotary"):
                if getattr(self, name):
                    raise RuleError(f"`{name}` applies to self-attention, but this layer "
                                    "attends to a memory input", code="DLS102")
        keys = query if memory is None else memory
        if mask is not None:
            check_mask(mask, keys)
        if bias is not None:
            check_bias(bias, (query.shape[0], self.heads), query.shape[1], keys.shape[1])
        return query

    def build(self, *inputs: TensorType) -> Build:
        query, memory, _, _ = split_inputs(inputs)
        kdim = memory.shape[2] if memory is not None else None
        return Build(f"{LAYERS}.MultiheadAttention", {
            "embed_dim": query.shape[2], "num_heads": self.heads, "kdim": kdim, "vdim": kdim,
            "cross": memory is not None, **self.attention_kwargs()})

    def param_shapes(self, *inputs: TensorType) -> dict[str, tuple[int, ...]]:
        query, memory, _, _ = split_inputs(inputs)
        d = query.shape[2]
        return mha_param_shapes(d, (query if memory is None else memory).shape[2], self.bias,
                                kv=self.kv_width(d))

    def macs(self, *inputs: TensorType) -> int:
        query, memory, _, _ = split_inputs(inputs)
        keys = query if memory is None else memory
        return mha_macs(query.shape[0], query.shape[1], keys.shape[1], query.shape[2],
                        keys.shape[2], self.kv_width(query.shape[2]))


class ScaledDotProductAttention(Op):
    """softmax(q k^T * scale + bias) v on given q (N, [heads,] T, d), k (N, [heads,] S, d),
    v (N, [heads,] S, dv) [, mask (N, S)] [, float bias (N, [heads,] T, S)] -> (N, [heads,] T,
    dv); no parameters."""

    op: Literal["scaled_dot_product_attention"] = "scaled_dot_product_attention"
    causal: bool = Field(False, description="Query i attends to keys j <= i (needs T = S).")
    window: PositiveInt | None = window_field()
    scale: PositiveFloat | None = Field(
        None, description="Factor on the scores; default 1/sqrt(d). 1.0 gives plain "
        "dot-product (Luong) attention.")
    dropout: Probability = Field(0.0, description="Dropout on the attention weights "
                                 "(training only).")
    min_inputs: ClassVar[int] = 3
    max_inputs: ClassVar[int | None] = 5

    def infer(self, q: TensorType, k: TensorType, v: TensorType, *extras: TensorType):
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
        _, mask, bias = split_extras(extras)
        if mask is not None:
            check_mask(mask, k)
        if bias is not None:
            check_bias(bias, q.shape[:-2], q.shape[-2], k.shape[-2])
        return q.with_shape(*q.shape[:-1], v.shape[-1])

    def input_roles(self, *inputs: TensorType) -> tuple[InputRole | None, ...]:
        return mask_roles(inputs)

    def build(self, *inputs: TensorType) -> Build:
        return Build(f"{LAYERS}.ScaledDotProductAttention", {
            "causal": self.causal, "window": self.window, "scale": self.scale,
            "dropout": self.dropout})

    def macs(self, q: TensorType, k: TensorType, v: TensorType, *extras: TensorType) -> int:
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

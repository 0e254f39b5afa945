"""Index and bias tensors built in the graph from a sequence's length: positions (`arange`),
causal and sliding-window masks, T5's relative-position buckets and learned bias, ALiBi.

Each reads only the sizes of its input(s), dim 1 being the sequence (token ids (N, seq) or
vectors (N, seq, D) alike), so its shape follows the input, and feeds attention as its
additive bias input (N, heads, T, S) (see attention.py): masks give 0 where a key is seen and
the float's lowest value where it is not, so they add to a position bias (`add`, with
`broadcast: true` over the heads of a mask (N, 1, T, T))."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from dlspec.errors import RuleError
from dlspec.ir.types import Dim, TensorType
from dlspec.ops.base import Build, Op, PositiveInt, normalize_dim

LAYERS = "dlspec.backends.torch_layers.attention_bias"


def _length(x: TensorType, what: str = "input") -> Dim:
    """The sequence length of `x`, its dim 1."""
    if x.rank < 2:
        raise RuleError(f"expects a sequence (N, seq, ...) as its {what}, got {x}",
                        hint="give it the token ids (N, seq) or their vectors (N, seq, D)")
    return x.shape[1]


class Arange(Op):
    """The positions start, start+1, ... of a sequence, as int64 ids (no parameters):
    (N, seq, ...) -> (N, seq) (feeds an embedding of positions)."""

    op: Literal["arange"] = "arange"
    dim: int = Field(1, description="The dim whose positions are counted (1: the sequence).")
    start: int = Field(0, description="The first position.")

    def infer(self, x: TensorType) -> TensorType:
        dim = normalize_dim(self.dim, x.rank)
        return TensorType((x.shape[0], x.shape[dim]), "int64")

    def build(self, x: TensorType) -> Build:
        return Build(f"{LAYERS}.Arange", {"dim": normalize_dim(self.dim, x.rank),
                                          "start": self.start})


class _Mask(Op):
    """A mask of self-attention over one sequence: (N, seq, ...) -> float (N, 1, seq, seq)."""

    def infer(self, x: TensorType) -> TensorType:
        length = _length(x)
        return TensorType((x.shape[0], 1, length, length), "float32")

    def build(self, x: TensorType) -> Build:
        return Build(f"{LAYERS}.PositionMask", self.mask_kwargs())


class CausalMask(_Mask):
    """The causal mask as an additive attention bias: 0 where key j <= query i (within
    `window` steps back, if given), the lowest float elsewhere: (N, seq, ...) -> (N, 1, seq,
    seq)."""

    op: Literal["causal_mask"] = "causal_mask"
    window: PositiveInt | None = Field(
        None, description="Sliding window: query i sees only keys i - window .. i (Mistral, "
        "Longformer's causal form); null: every earlier key.")

    def mask_kwargs(self) -> dict:
        return {"causal": True, "window": self.window}


class WindowMask(_Mask):
    """The sliding-window (local attention) mask as an additive attention bias: 0 where
    |i - j| <= window, the lowest float elsewhere: (N, seq, ...) -> (N, 1, seq, seq)."""

    op: Literal["window_mask"] = "window_mask"
    window: PositiveInt = Field(description="Keys farther than this from the query, either "
                                "way, are hidden.")

    def mask_kwargs(self) -> dict:
        return {"causal": False, "window": self.window}


class _Buckets(Op):
    """T5's bucketing of relative positions j - i of keys j to queries i."""

    bidirectional: bool = Field(
        True, description="Keys before and after the query get buckets of their own (half "
        "the buckets each: T5's encoder); false: later keys share bucket 0 (T5's decoder, "
        "causal).")
    num_buckets: PositiveInt = Field(32, description="Buckets: the first half (of each "
                                     "direction) exact distances, the rest logarithmic.")
    max_distance: PositiveInt = Field(128, description="Distances from this on share the "
                                      "last bucket.")
    max_inputs: ClassVar[int | None] = 2

    @model_validator(mode="after")
    def _enough_buckets(self):
        exact = self.num_buckets // (2 if self.bidirectional else 1) // 2
        if exact < 1:
            raise ValueError(f"num_buckets={self.num_buckets} leaves no bucket for exact "
                             "distances; give at least 2 (4 when bidirectional)")
        if self.max_distance <= exact:
            raise ValueError(f"max_distance={self.max_distance} must be above the "
                             f"{exact} exact distances")
        return self

    def lengths(self, *inputs: TensorType) -> tuple[Dim, Dim]:
        """(T, S): the queries' length (the first input), the keys' (the second, or the
        first again)."""
        return _length(inputs[0], "queries"), _length(inputs[-1], "keys")

    def bucket_kwargs(self) -> dict:
        return {"bidirectional": self.bidirectional, "num_buckets": self.num_buckets,
                "max_distance": self.max_distance}


class RelativePositionBuckets(_Buckets):
    """T5's relative-position bucket of each query and key, int64 ids (no parameters):
    queries (N, T, ...) [, keys (N, S, ...)] -> (N, T, S)."""

    op: Literal["relative_position_buckets"] = "relative_position_buckets"

    def infer(self, *inputs: TensorType) -> TensorType:
        return TensorType((inputs[0].shape[0], *self.lengths(*inputs)), "int64")

    def build(self, *inputs: TensorType) -> Build:
        return Build(f"{LAYERS}.RelativePositionBuckets", self.bucket_kwargs())


class RelativePositionBias(_Buckets):
    """T5's relative position bias: a learned value per bucket and head, as an additive
    attention bias: queries (N, T, ...) [, keys (N, S, ...)] -> (N, heads, T, S); `weight`
    is (num_buckets, heads), T5's `relative_attention_bias`."""

    op: Literal["relative_position_bias"] = "relative_position_bias"
    heads: PositiveInt = Field(description="Attention heads: one bias table column each.")

    def infer(self, *inputs: TensorType) -> TensorType:
        return TensorType((inputs[0].shape[0], self.heads, *self.lengths(*inputs)), "float32")

    def build(self, *inputs: TensorType) -> Build:
        return Build(f"{LAYERS}.RelativePositionBias", {**self.bucket_kwargs(),
                                                        "heads": self.heads})

    def param_shapes(self, *inputs: TensorType) -> dict[str, tuple[int, ...]]:
        return {"weight": (self.num_buckets, self.heads)}


class AlibiBias(Op):
    """ALiBi (Press et al. 2022): -m_h |i - j| for query i, key j and head h's slope m_h
    (2^(-8h/heads), h = 1..heads, for a power of two; interleaved otherwise, as the paper's
    code), as an additive attention bias: (N, seq, ...) -> (N, heads, seq, seq)."""

    op: Literal["alibi_bias"] = "alibi_bias"
    heads: PositiveInt = Field(description="Attention heads: one slope each.")

    def infer(self, x: TensorType) -> TensorType:
        length = _length(x)
        return TensorType((x.shape[0], self.heads, length, length), "float32")

    def build(self, x: TensorType) -> Build:
        return Build(f"{LAYERS}.AlibiBias", {"heads": self.heads})

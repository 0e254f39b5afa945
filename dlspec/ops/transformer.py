"""Transformer blocks with the parameters of nn.TransformerEncoderLayer / DecoderLayer, batch
first, on the fused attention kernel. A GPT block is a causal, pre-norm encoder block; a LLaMA
block a causal, pre-norm one with RMS norms, a gated (SwiGLU) feed-forward, rotary positions,
no biases and, in the larger models, grouped-query attention (`kv_heads`); a T5 block an
unscaled, RMS-normed, bias-free one with a relative position bias input."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, PositiveFloat

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.attention import (
    LAYERS,
    AttentionOptions,
    check_bias,
    check_mask,
    mha_macs,
    mha_param_shapes,
    split_extras,
)
from dlspec.ops.base import Build, PositiveInt, Probability, expect_sequence


class _Block(AttentionOptions):
    """The attributes and counts both blocks share."""

    ffn: PositiveInt | None = Field(
        None, description="Width of the feed-forward layer (with `gated`, of each of its two "
        "input projections); default 4 * d_model.")
    activation: Literal["relu", "gelu", "gelu_tanh", "silu"] = Field(
        "relu", description="Feed-forward activation; gelu_tanh is GPT-2's tanh approximation.")
    gated: bool = Field(
        False, description="Gated feed-forward, linear2(activation(x W_gate) * x W_up): SwiGLU "
        "with silu (LLaMA), GeGLU with gelu or gelu_tanh (T5 v1.1); linear1 holds [W_gate; "
        "W_up], 2 * ffn rows.")
    dropout: Probability = Field(
        0.1, description="Dropout on the attention weights, inside the feed-forward layer and "
        "on each sublayer's output (training only), as nn.TransformerEncoderLayer.")
    norm: Literal["pre", "post"] = Field(
        "post", description="Layer norm before each sublayer (pre: GPT-2, ViT) or after the "
        "residual add (post: the original transformer, BERT).")
    norm_type: Literal["layernorm", "rmsnorm"] = Field(
        "layernorm", description="The norms of the block: layer norm (with a shift unless "
        "bias is false) or RMS norm (a scale only: T5, LLaMA).")
    eps: PositiveFloat = Field(1e-5, description="Epsilon of the norms.")

    norms: ClassVar[int] = 2

    def _ffn(self, d: int) -> int:
        return self.ffn or 4 * d

    def block_kwargs(self, d: int) -> dict:
        return {"d_model": d, "heads": self.heads, "ffn": self._ffn(d),
                "activation": self.activation, "norm": self.norm, "eps": self.eps,
                "norm_type": self.norm_type, "gated": self.gated, **self.attention_kwargs()}

    def _self_attention(self, d: int) -> dict[str, tuple[int, ...]]:
        return mha_param_shapes(d, d, self.bias, "self_attn.", kv=self.kv_width(d))

    def _feed_forward_and_norms(self, d: int) -> dict[str, tuple[int, ...]]:
        ffn = self._ffn(d)
        wide = ffn * (1 + self.gated)
        shapes: dict[str, tuple[int, ...]] = {
            "linear1.weight": (wide, d), "linear1.bias": (wide,),
            "linear2.weight": (d, ffn), "linear2.bias": (d,)}
        for k in range(1, self.norms + 1):
            shapes[f"norm{k}.weight"] = (d,)
            if self.norm_type == "layernorm":
                shapes[f"norm{k}.bias"] = (d,)
        return {name: shape for name, shape in shapes.items()
                if self.bias or not name.endswith("bias")}

    def _ffn_macs(self, n: int, t: int, d: int) -> int:
        return (2 + self.gated) * n * t * d * self._ffn(d)

    def _check_extras(self, x: TensorType, keys: TensorType, extras: tuple[TensorType, ...]):
        """A padding mask of `keys` and a bias of the self-attention scores, both optional."""
        _, mask, bias = split_extras(extras)
        if mask is not None:
            check_mask(mask, keys)
        if bias is not None:
            check_bias(bias, (x.shape[0], self.heads), x.shape[1], x.shape[1])


class TransformerEncoderBlock(_Block):
    """Self-attention then feed-forward, each residual: (N, seq, D) [, mask (N, seq)] [, bias
    (N, heads, seq, seq)] -> (N, seq, D)."""

    op: Literal["transformer_encoder_block"] = "transformer_encoder_block"
    max_inputs: ClassVar[int | None] = 3

    def infer(self, x: TensorType, *extras: TensorType) -> TensorType:
        self.check_heads(expect_sequence(x))
        self._check_extras(x, x, extras)
        return x

    def build(self, x: TensorType, *extras: TensorType) -> Build:
        return Build(f"{LAYERS}.TransformerEncoderBlock", self.block_kwargs(x.shape[2]))

    def param_shapes(self, x: TensorType, *extras: TensorType) -> dict[str, tuple[int, ...]]:
        d = x.shape[2]
        return self._self_attention(d) | self._feed_forward_and_norms(d)

    def macs(self, x: TensorType, *extras: TensorType) -> int:
        n, t, d = x.shape
        return mha_macs(n, t, t, d, d, self.kv_width(d)) + self._ffn_macs(n, t, d)


class TransformerDecoderBlock(_Block):
    """Masked self-attention, cross-attention on the encoder's memory, feed-forward:
    x (N, T, D), memory (N, S, Dm) [, memory mask (N, S)] [, self-attention bias (N, heads,
    T, T)] -> (N, T, D)."""

    op: Literal["transformer_decoder_block"] = "transformer_decoder_block"
    causal: bool = Field(True, description="Self-attention only sees the past (query i "
                         "attends to keys j <= i); the cross-attention sees all the memory.")
    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = 4
    norms: ClassVar[int] = 3

    def infer(self, x: TensorType, memory: TensorType, *extras: TensorType) -> TensorType:
        self.check_heads(expect_sequence(x))
        if memory.dtype == "int64":
            raise RuleError(f"the second input must be the encoder's memory (N, S, D), got "
                            f"int64 {memory}", code="DLS202",
                            hint="inputs are [x, memory] or [x, memory, memory_mask]")
        expect_sequence(memory)
        self._check_extras(x, memory, extras)
        return x

    def build(self, x: TensorType, memory: TensorType, *extras: TensorType) -> Build:
        return Build(f"{LAYERS}.TransformerDecoderBlock",
                     {**self.block_kwargs(x.shape[2]), "memory_dim": memory.shape[2]})

    def param_shapes(self, x: TensorType, memory: TensorType,
                     *extras: TensorType) -> dict[str, tuple[int, ...]]:
        d = x.shape[2]
        return self._self_attention(d) | mha_param_shapes(
            d, memory.shape[2], self.bias, "multihead_attn.", kv=self.kv_width(d)) | \
            self._feed_forward_and_norms(d)

    def macs(self, x: TensorType, memory: TensorType, *extras: TensorType) -> int:
        n, t, d = x.shape
        kv = self.kv_width(d)
        return mha_macs(n, t, t, d, d, kv) + mha_macs(n, t, memory.shape[1], d,
                                                      memory.shape[2], kv) \
            + self._ffn_macs(n, t, d)

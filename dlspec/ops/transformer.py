"""Transformer blocks with the parameters of nn.TransformerEncoderLayer / DecoderLayer, batch
first, on the fused attention kernel. A GPT block is a causal, pre-norm encoder block."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, PositiveFloat

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.attention import (
    LAYERS,
    AttentionOptions,
    check_mask,
    mha_macs,
    mha_param_shapes,
)
from dlspec.ops.base import Build, PositiveInt, Probability, expect_sequence


class _Block(AttentionOptions):
    """The attributes and counts both blocks share."""

    ffn: PositiveInt | None = Field(
        None, description="Width of the feed-forward layer; default 4 * d_model.")
    activation: Literal["relu", "gelu", "gelu_tanh", "silu"] = Field(
        "relu", description="Feed-forward activation; gelu_tanh is GPT-2's tanh approximation.")
    dropout: Probability = Field(
        0.1, description="Dropout on the attention weights, inside the feed-forward layer and "
        "on each sublayer's output (training only), as nn.TransformerEncoderLayer.")
    norm: Literal["pre", "post"] = Field(
        "post", description="Layer norm before each sublayer (pre: GPT-2, ViT) or after the "
        "residual add (post: the original transformer, BERT).")
    eps: PositiveFloat = Field(1e-5, description="Epsilon of the layer norms.")

    norms: ClassVar[int] = 2

    def _ffn(self, d: int) -> int:
        return self.ffn or 4 * d

    def block_kwargs(self, d: int) -> dict:
        return {"d_model": d, "heads": self.heads, "ffn": self._ffn(d),
                "activation": self.activation, "norm": self.norm, "eps": self.eps,
                **self.attention_kwargs()}

    def _feed_forward_and_norms(self, d: int) -> dict[str, tuple[int, ...]]:
        ffn = self._ffn(d)
        shapes: dict[str, tuple[int, ...]] = {"linear1.weight": (ffn, d), "linear1.bias": (ffn,),
                                              "linear2.weight": (d, ffn), "linear2.bias": (d,)}
        for k in range(1, self.norms + 1):
            shapes |= {f"norm{k}.weight": (d,), f"norm{k}.bias": (d,)}
        return {name: shape for name, shape in shapes.items()
                if self.bias or not name.endswith("bias")}


class TransformerEncoderBlock(_Block):
    """Self-attention then feed-forward, each residual: (N, seq, D) [, mask (N, seq)] ->
    (N, seq, D)."""

    op: Literal["transformer_encoder_block"] = "transformer_encoder_block"
    max_inputs: ClassVar[int | None] = 2

    def infer(self, x: TensorType, *mask: TensorType) -> TensorType:
        self.check_heads(expect_sequence(x))
        for m in mask:
            check_mask(m, x)
        return x

    def build(self, x: TensorType, *mask: TensorType) -> Build:
        return Build(f"{LAYERS}.TransformerEncoderBlock", self.block_kwargs(x.shape[2]))

    def param_shapes(self, x: TensorType, *mask: TensorType) -> dict[str, tuple[int, ...]]:
        d = x.shape[2]
        return mha_param_shapes(d, d, self.bias, "self_attn.") | self._feed_forward_and_norms(d)

    def macs(self, x: TensorType, *mask: TensorType) -> int:
        n, t, d = x.shape
        return mha_macs(n, t, t, d, d) + 2 * n * t * d * self._ffn(d)


class TransformerDecoderBlock(_Block):
    """Masked self-attention, cross-attention on the encoder's memory, feed-forward:
    x (N, T, D), memory (N, S, Dm) [, memory mask (N, S)] -> (N, T, D)."""

    op: Literal["transformer_decoder_block"] = "transformer_decoder_block"
    causal: bool = Field(True, description="Self-attention only sees the past (query i "
                         "attends to keys j <= i); the cross-attention sees all the memory.")
    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = 3
    norms: ClassVar[int] = 3

    def infer(self, x: TensorType, memory: TensorType, *mask: TensorType) -> TensorType:
        self.check_heads(expect_sequence(x))
        if memory.dtype == "int64":
            raise RuleError(f"the second input must be the encoder's memory (N, S, D), got "
                            f"int64 {memory}", code="DLS202",
                            hint="inputs are [x, memory] or [x, memory, memory_mask]")
        expect_sequence(memory)
        for m in mask:
            check_mask(m, memory)
        return x

    def build(self, x: TensorType, memory: TensorType, *mask: TensorType) -> Build:
        return Build(f"{LAYERS}.TransformerDecoderBlock",
                     {**self.block_kwargs(x.shape[2]), "memory_dim": memory.shape[2]})

    def param_shapes(self, x: TensorType, memory: TensorType,
                     *mask: TensorType) -> dict[str, tuple[int, ...]]:
        d = x.shape[2]
        return mha_param_shapes(d, d, self.bias, "self_attn.") | \
            mha_param_shapes(d, memory.shape[2], self.bias, "multihead_attn.") | \
            self._feed_forward_and_norms(d)

    def macs(self, x: TensorType, memory: TensorType, *mask: TensorType) -> int:
        n, t, d = x.shape
        return mha_macs(n, t, t, d, d) + mha_macs(n, t, memory.shape[1], d, memory.shape[2]) \
            + 2 * n * t * d * self._ffn(d)

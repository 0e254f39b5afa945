"""Lookup tables from integer ids to vectors."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.base import (
    Build,
    InputRole,
    NonNegativeInt,
    Op,
    PositiveInt,
    expect_sequence,
)


class Embedding(Op):
    """Maps int64 ids to learned vectors: (N, *) -> (N, *, embedding_dim)."""

    op: Literal["embedding"] = "embedding"
    num_embeddings: PositiveInt = Field(description="Vocabulary size: ids are 0..num_embeddings-1.")
    embedding_dim: PositiveInt = Field(description="Size of each vector.")
    padding_idx: NonNegativeInt | None = Field(
        None, description="An id whose vector stays zero and gets no gradient (padding).")

    @model_validator(mode="after")
    def _padding_in_range(self):
        if self.padding_idx is not None and self.padding_idx >= self.num_embeddings:
            raise ValueError(f"padding_idx {self.padding_idx} is not below num_embeddings "
                             f"{self.num_embeddings}")
        return self

    def infer(self, ids: TensorType) -> TensorType:
        if ids.dtype != "int64":
            raise RuleError(f"expects int64 ids, got {ids.dtype} {ids}", code="DLS202",
                            hint="declare the input with `dtype: int64`")
        return TensorType((*ids.shape, self.embedding_dim), "float32")

    def build(self, ids: TensorType) -> Build:
        return Build("torch.nn.Embedding", {
            "num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
            "padding_idx": self.padding_idx})

    def param_shapes(self, ids: TensorType) -> dict[str, tuple[int, ...]]:
        return {"weight": (self.num_embeddings, self.embedding_dim)}

    def input_roles(self, ids: TensorType) -> tuple[InputRole | None, ...]:
        return (InputRole("ids", self.num_embeddings),)


class TokenTypeEmbedding(Op):
    """Adds a learned vector per token type (BERT's segment embedding): (N, seq, D) [+ type ids
    (N, seq)] -> (N, seq, D); without type ids every token is type 0."""

    op: Literal["token_type_embedding"] = "token_type_embedding"
    types: PositiveInt = Field(2, description="Number of token types (BERT: 2, sentence A/B).")
    max_inputs: ClassVar[int | None] = 2

    def infer(self, x: TensorType, *token_types: TensorType) -> TensorType:
        expect_sequence(x)
        for ids in token_types:
            if ids.dtype != "int64":
                raise RuleError(f"token type ids must be int64, got {ids.dtype} {ids}",
                                code="DLS202", hint="declare the input with `dtype: int64`")
            if ids.shape != x.shape[:2]:
                raise RuleError(f"token type ids {ids} do not match the sequence {x}",
                                hint="give one type id per token: (N, seq)")
        return x

    def build(self, x: TensorType, *token_types: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.sequence.TokenTypeEmbedding",
                     {"num_embeddings": self.types, "embedding_dim": x.shape[2]})

    def param_shapes(self, x: TensorType, *token_types: TensorType) -> dict[str, tuple[int, ...]]:
        return {"weight": (self.types, x.shape[2])}

    def input_roles(self, x: TensorType, *token_types: TensorType) -> tuple[InputRole | None, ...]:
        return (None, *(InputRole("ids", self.types) for _ in token_types))

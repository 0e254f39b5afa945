"""Lookup tables from integer ids to vectors."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.base import Build, NonNegativeInt, Op, PositiveInt


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

    def param_count(self, ids: TensorType) -> int:
        return self.num_embeddings * self.embedding_dim

"""Masks derived in the graph: a padding mask from token ids and the id that pads them.

The mask has the form the attention layers take (see attention.py): int64, 1 for a real token
and 0 for padding, one value per token, so `{op: padding_mask, inputs: src}` can feed the
`mask` input of multi-head attention and the transformer blocks without the data carrying one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.base import Build, NonNegativeInt, Op


class PaddingMask(Op):
    """1 where the token id is not `pad`, 0 where it is: int64 ids (N, *) -> int64 (N, *)."""

    op: Literal["padding_mask"] = "padding_mask"
    pad: NonNegativeInt = Field(0, description="The token id that pads a sequence (the "
                                "embedding's padding_idx; 0 in the built-in token datasets).")

    def infer(self, ids: TensorType) -> TensorType:
        if ids.dtype != "int64":
            raise RuleError(f"expects int64 token ids, got {ids.dtype} {ids}", code="DLS202",
                            hint="take the mask from the token ids the embedding reads, not "
                            "from their vectors")
        if ids.rank < 2:
            raise RuleError(f"expects token ids (N, seq), got {ids.rank} dim {ids}",
                            hint="a padding mask has one value per token of a sequence")
        return ids

    def build(self, ids: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.attention.PaddingMask", {"pad": self.pad})

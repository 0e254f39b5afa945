"""Ops that take a part of a tensor along one dim: slice (x[:, start:end:step]) and split
(one piece of a split; each op returns one tensor, so two `split` layers with different
`index` give two pieces).

On a symbolic dim (`seq`), positions count from its start (>= 0) or its end (< 0), and the dim
is assumed long enough to hold them, as window sizes are: `start: -1` is the last step (size
1), `start: 2` leaves `seq-2`. A part whose size would depend on how long the dim is in a way
that is not `seq + constant` (from a position counted from the end to one counted from the
start) is refused.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from dlspec.errors import RuleError
from dlspec.ir.types import Dim, TensorType, dim_add, dim_affine, dim_div
from dlspec.ops.base import Build, Op, PositiveInt, normalize_dim

LAYERS = "dlspec.backends.torch_layers.tensor."


def part_size(size: Dim, start: int | None, end: int | None, step: int = 1) -> Dim:
    """The size of x[start:end:step] along a dim of `size` (Python's rules for numbers)."""
    if isinstance(size, int):
        span = len(range(size)[start:end])
    else:
        start = start or 0
        from_end = (start < 0, end is None or end < 0)
        if from_end == (True, False):
            raise RuleError(f"the size of [{start}:{end}] depends on the length of '{size}'",
                            hint="count both positions from the start or both from the end")
        span = dim_add(size, (end or 0) - start) if from_end == (False, True) \
            else (end or 0) - start
        if not isinstance(span, int):
            return dim_affine(span, add=-1, div=step) if step > 1 else span
    if span <= 0:
        raise RuleError(f"[{start}:{end}] of a dim of size {size} is empty")
    return -(-span // step)


class Slice(Op):
    """x[:, start:end:step] along one dim: (N, seq, d) -> (N, seq-1, d) for start 1."""

    op: Literal["slice"] = "slice"
    dim: int = Field(1, description="The dim to slice (the batch is dim 0 and cannot be).")
    start: int | None = Field(None, description="First position taken; negative counts from "
                              "the end (-1 is the last); null is the beginning.")
    end: int | None = Field(None, description="Position after the last one taken; negative "
                            "counts from the end; null is the end.")
    step: PositiveInt = Field(1, description="Take every step-th position.")

    def infer(self, x: TensorType) -> TensorType:
        dim = normalize_dim(self.dim, x.rank)
        size = part_size(x.shape[dim], self.start, self.end, self.step)
        return x.with_shape(*x.shape[:dim], size, *x.shape[dim + 1:])

    def build(self, x: TensorType) -> Build:
        return Build(LAYERS + "Slice", {"dim": normalize_dim(self.dim, x.rank),
                                        "start": self.start, "end": self.end,
                                        "step": self.step})


class Split(Op):
    """Piece `index` of x split along one dim into `sizes` or into `chunks` equal pieces."""

    op: Literal["split"] = "split"
    dim: int = Field(1, description="The dim to split (the batch is dim 0 and cannot be).")
    sizes: list[int] | None = Field(None, description=(
        "Sizes of the pieces, in order; one entry may be -1 for the rest (needed on a symbolic "
        "dim). Give sizes or chunks."))
    chunks: int | None = Field(None, ge=2, description=(
        "Number of equal pieces; it must divide the dim. Give sizes or chunks."))
    index: int = Field(0, ge=0, description="Which piece this layer returns (0 = the first).")

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, sizes: list[int] | None) -> list[int] | None:
        if sizes is not None and (len(sizes) < 2 or sizes.count(-1) > 1
                                  or any(s == 0 or s < -1 for s in sizes)):
            raise ValueError("sizes needs two or more positive entries, one of which may be "
                             "-1 (the rest)")
        return sizes

    @model_validator(mode="after")
    def _one_way(self) -> Split:
        if (self.sizes is None) == (self.chunks is None):
            raise ValueError("give either sizes or chunks")
        pieces = self.chunks or len(self.sizes or ())
        if self.index >= pieces:
            raise ValueError(f"index {self.index} is past the last of {pieces} pieces")
        return self

    def infer(self, x: TensorType) -> TensorType:
        dim = normalize_dim(self.dim, x.rank)
        size = x.shape[dim]
        if self.chunks:
            piece = dim_div(size, self.chunks)
            if piece is None:
                raise RuleError(f"dim {self.dim} of {x} cannot be split into {self.chunks} "
                                "equal chunks", hint="give `sizes` for unequal pieces")
        else:
            self._check_total(size)
            piece = part_size(size, *self._bounds())
        return x.with_shape(*x.shape[:dim], piece, *x.shape[dim + 1:])

    def build(self, x: TensorType) -> Build:
        dim = normalize_dim(self.dim, x.rank)
        if self.chunks:
            return Build(LAYERS + "Chunk", {"dim": dim, "chunks": self.chunks,
                                            "index": self.index})
        start, end = self._bounds()
        return Build(LAYERS + "Slice", {"dim": dim, "start": start, "end": end, "step": 1})

    def _bounds(self) -> tuple[int | None, int | None]:
        """The piece as a slice: pieces after the -1 entry count from the end."""
        sizes, i = self.sizes or [], self.index
        free = sizes.index(-1) if -1 in sizes else len(sizes)
        start = sum(sizes[:i]) if i <= free else -sum(sizes[i:])
        if i == len(sizes) - 1:
            return start, None
        return start, (sum(sizes[:i + 1]) if i < free else -sum(sizes[i + 1:]))

    def _check_total(self, size: Dim) -> None:
        sizes = self.sizes or []
        fixed = sum(s for s in sizes if s != -1)
        if -1 in sizes:
            if isinstance(size, int) and size <= fixed:
                raise RuleError(f"sizes {sizes} leave nothing for the -1 piece of a dim of "
                                f"size {size}")
        elif size != fixed:
            raise RuleError(f"sizes {sizes} add up to {fixed}, but the dim has size {size}",
                            hint="make one entry -1 to take the rest")

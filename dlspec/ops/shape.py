"""Ops that rearrange a tensor without computing: identity, flatten, reshape, permute,
transpose, squeeze, unsqueeze, roll, tile, repeat, expand. The batch stays dim 0."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType, dim_div, dim_mul, dim_prod
from dlspec.ops.base import Build, Op, normalize_dim

LAYERS = "dlspec.backends.torch_layers.tensor."


class Identity(Op):
    """Returns its input unchanged (a named tap point, or a no-op branch)."""

    op: Literal["identity"] = "identity"

    def infer(self, x: TensorType) -> TensorType:
        return x

    def build(self, x: TensorType) -> Build:
        return Build("torch.nn.Identity")


class Flatten(Op):
    """Merges dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    op: Literal["flatten"] = "flatten"
    start_dim: int = Field(1, description="First dim to merge (the batch is dim 0).")
    end_dim: int = Field(-1, description="Last dim to merge.")

    def infer(self, x: TensorType) -> TensorType:
        start = normalize_dim(self.start_dim, x.rank)
        end = normalize_dim(self.end_dim, x.rank)
        if end < start:
            raise RuleError(f"end_dim {self.end_dim} comes before start_dim {self.start_dim}",
                            code="DLS102")
        merged = dim_prod(x.shape[start:end + 1])
        return x.with_shape(*x.shape[:start], merged, *x.shape[end + 1:])

    def build(self, x: TensorType) -> Build:
        return Build("torch.nn.Flatten", {"start_dim": self.start_dim, "end_dim": self.end_dim})


class Reshape(Op):
    """Gives each sample a new shape with the same number of elements; one entry may be -1."""

    op: Literal["reshape"] = "reshape"
    shape: list[int] = Field(
        description="Per-sample target shape (batch excluded), e.g. [16, 4, 4].")

    @field_validator("shape")
    @classmethod
    def _one_free_dim(cls, shape: list[int]) -> list[int]:
        if shape.count(-1) > 1:
            raise ValueError("at most one entry may be -1")
        if any(d == 0 or d < -1 for d in shape):
            raise ValueError("entries must be positive, or -1 for the one inferred entry")
        return shape

    def infer(self, x: TensorType) -> TensorType:
        total = dim_prod(x.sample_shape)
        fixed = dim_prod([d for d in self.shape if d != -1])
        if -1 in self.shape:
            free = dim_div(total, fixed)
            if free is None:
                raise RuleError(f"cannot reshape {x.sample_shape} ({total} elements) to "
                                f"{self.shape}: {total} is not divisible by {fixed}")
            return x.with_shape(x.shape[0], *[free if d == -1 else d for d in self.shape])
        if fixed != total:
            raise RuleError(f"cannot reshape a sample of {total} elements {x.sample_shape} "
                            f"into {self.shape} ({fixed} elements)",
                            hint="use -1 for the entry to infer")
        return x.with_shape(x.shape[0], *self.shape)

    def build(self, x: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.Reshape", {"shape": list(self.shape)})


class Permute(Op):
    """Reorders the sample dims, batch first: [2, 3, 1] is (N, C, H, W) -> (N, H, W, C)."""

    op: Literal["permute"] = "permute"
    dims: list[int] = Field(description=(
        "The new order of the sample dims, numbered as everywhere (the batch is dim 0 and is "
        "left out: it stays first), e.g. [2, 1] swaps the two dims of (N, seq, d)."))

    def infer(self, x: TensorType) -> TensorType:
        return x.with_shape(x.shape[0], *[x.shape[d] for d in self._order(x)])

    def build(self, x: TensorType) -> Build:
        return Build(LAYERS + "Permute", {"dims": self._order(x)})

    def _order(self, x: TensorType) -> list[int]:
        if 0 in self.dims:
            raise RuleError("dims must not list the batch dim 0", code="DLS102",
                            hint=f"list only the sample dims: the batch stays first, e.g. "
                            f"{list(range(x.rank - 1, 0, -1))}")
        order = [normalize_dim(d, x.rank) for d in self.dims]
        if sorted(order) != list(range(1, x.rank)):
            raise RuleError(f"dims {self.dims} are not an order of the sample dims "
                            f"1..{x.rank - 1} of {x}", code="DLS102",
                            hint="name each sample dim exactly once")
        return order


class Transpose(Op):
    """Swaps two sample dims: dims 1 and 2 make (N, seq, d) -> (N, d, seq)."""

    op: Literal["transpose"] = "transpose"
    dim0: int = Field(1, description="One dim to swap (the batch is dim 0 and cannot move).")
    dim1: int = Field(2, description="The other dim to swap.")

    def infer(self, x: TensorType) -> TensorType:
        return x.with_shape(*[x.shape[d] for d in self._order(x)])

    def build(self, x: TensorType) -> Build:
        return Build(LAYERS + "Permute", {"dims": self._order(x)[1:]})

    def _order(self, x: TensorType) -> list[int]:
        """The full permutation, batch included."""
        a, b = normalize_dim(self.dim0, x.rank), normalize_dim(self.dim1, x.rank)
        order = list(range(x.rank))
        order[a], order[b] = b, a
        return order


class Squeeze(Op):
    """Removes one dim of size 1: dim 2 makes (N, C, 1) -> (N, C)."""

    op: Literal["squeeze"] = "squeeze"
    dim: int = Field(description="The dim to remove; its size must be 1.")

    def infer(self, x: TensorType) -> TensorType:
        dim = normalize_dim(self.dim, x.rank)
        if x.shape[dim] != 1:
            raise RuleError(f"dim {self.dim} of {x} has size {x.shape[dim]}, not 1",
                            hint="squeeze removes a dim of size 1 only; `flatten` merges dims, "
                            "`slice` picks a part")
        return x.with_shape(*x.shape[:dim], *x.shape[dim + 1:])

    def build(self, x: TensorType) -> Build:
        return Build(LAYERS + "Squeeze", {"dim": normalize_dim(self.dim, x.rank)})


class Unsqueeze(Op):
    """Inserts a dim of size 1 at `dim` of the result: dim -1 makes (N, C) -> (N, C, 1)."""

    op: Literal["unsqueeze"] = "unsqueeze"
    dim: int = Field(description="Where the new dim is in the result (1 = right after the "
                     "batch; -1 = last).")

    def infer(self, x: TensorType) -> TensorType:
        dim = normalize_dim(self.dim, x.rank + 1)
        return x.with_shape(*x.shape[:dim], 1, *x.shape[dim:])

    def build(self, x: TensorType) -> Build:
        return Build(LAYERS + "Unsqueeze", {"dim": normalize_dim(self.dim, x.rank + 1)})


class Roll(Op):
    """Shifts a tensor cyclically along sample dims (torch.roll): what falls off one end
    comes back at the other; the type is unchanged (Swin's shifted windows)."""

    op: Literal["roll"] = "roll"
    shifts: int | list[int] = Field(description="How far to shift: one number for every dim "
                                    "in `dims`, or one per dim (negative: towards the start).")
    dims: list[int] = Field(description="The sample dims to shift along (the batch is dim 0 "
                            "and does not roll), e.g. [1, 2] for H and W of (N, H, W, C).")

    def infer(self, x: TensorType) -> TensorType:
        self._plan(x)
        return x

    def build(self, x: TensorType) -> Build:
        shifts, dims = self._plan(x)
        return Build(LAYERS + "Roll", {"shifts": shifts, "dims": dims})

    def _plan(self, x: TensorType) -> tuple[list[int], list[int]]:
        dims = [normalize_dim(d, x.rank) for d in self.dims]
        if not dims or len(set(dims)) != len(dims):
            raise RuleError(f"dims {self.dims} must name each dim to roll once",
                            code="DLS102")
        shifts = self.shifts if isinstance(self.shifts, list) else [self.shifts] * len(dims)
        if len(shifts) != len(dims):
            raise RuleError(f"{len(shifts)} shifts for {len(dims)} dims", code="DLS102",
                            hint="give one shift, or one per dim in `dims`")
        return shifts, dims


class Tile(Op):
    """Repeats the whole sample along each sample dim (torch.Tensor.repeat / numpy.tile):
    reps [1, 2] makes (N, C, L) -> (N, C, 2*L)."""

    op: Literal["tile"] = "tile"
    reps: list[Annotated[int, Field(ge=1)]] = Field(
        description="Copies along each sample dim (the batch is not tiled), one per dim.")

    def infer(self, x: TensorType) -> TensorType:
        if len(self.reps) != x.rank - 1:
            raise RuleError(f"{len(self.reps)} reps for the {x.rank - 1} sample dims of {x}",
                            code="DLS102", hint="give one count per sample dim (1: keep)")
        return x.with_shape(x.shape[0], *(dim_mul(d, r) for d, r in
                                          zip(x.shape[1:], self.reps, strict=True)))

    def build(self, x: TensorType) -> Build:
        return Build(LAYERS + "Tile", {"reps": list(self.reps)})


class Repeat(Op):
    """Repeats each element `repeats` times in place along one dim (torch.repeat_interleave):
    [a, b] -> [a, a, b, b] (grouped-query attention's shared key heads)."""

    op: Literal["repeat"] = "repeat"
    repeats: Annotated[int, Field(ge=1)] = Field(description="Copies of each element.")
    dim: int = Field(description="The dim along which elements repeat (not the batch, 0).")

    def infer(self, x: TensorType) -> TensorType:
        dim = normalize_dim(self.dim, x.rank)
        shape = list(x.shape)
        shape[dim] = dim_mul(shape[dim], self.repeats)
        return x.with_shape(*shape)

    def build(self, x: TensorType) -> Build:
        return Build(LAYERS + "Repeat", {"repeats": self.repeats,
                                         "dim": normalize_dim(self.dim, x.rank)})


class Expand(Op):
    """Broadcasts dims of size 1 to a larger size without copying (torch.Tensor.expand):
    shape [4, -1] makes (N, 1, D) -> (N, 4, D)."""

    op: Literal["expand"] = "expand"
    shape: list[int] = Field(description="The per-sample target shape (batch excluded): a "
                             "size for each sample dim, -1 to keep it; only sizes of 1 grow.")

    def infer(self, x: TensorType) -> TensorType:
        if len(self.shape) != x.rank - 1:
            raise RuleError(f"shape {self.shape} has {len(self.shape)} entries for the "
                            f"{x.rank - 1} sample dims of {x}", code="DLS102")
        out: list = [x.shape[0]]
        for i, (size, target) in enumerate(zip(x.shape[1:], self.shape, strict=True), 1):
            if target == -1 or target == size:
                out.append(size)
            elif size == 1 and target >= 1:
                out.append(target)
            else:
                raise RuleError(f"dim {i} of {x} has size {size}: only a size of 1 expands "
                                f"(to {target})", hint="use -1 to keep a dim, `tile` to copy")
        return x.with_shape(*out)

    def build(self, x: TensorType) -> Build:
        return Build(LAYERS + "Expand", {"shape": list(self.shape)})

"""Ops that combine several inputs: add (residuals), subtract, multiply (gating), concat
(branches), matmul.

Subtract and multiply (and add with `broadcast: true`) broadcast as numpy does, between inputs
of the same rank (the batch is dim 0 of every input, so ranks must agree): where sizes differ,
one of them must be 1, e.g. a gate (N, C, 1, 1) times feature maps (N, C, H, W). A symbolic
size broadcasts only against itself or 1.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from dlspec.errors import RuleError
from dlspec.ir.types import Dim, TensorType, dim_add
from dlspec.ops.base import Build, Op, normalize_dim, numel

LAYERS = "dlspec.backends.torch_layers."


def _same_dtype(inputs: tuple[TensorType, ...]) -> str:
    dtypes = {x.dtype for x in inputs}
    if len(dtypes) > 1:
        raise RuleError(f"inputs have different dtypes {sorted(dtypes)}", code="DLS202")
    return inputs[0].dtype


def broadcast_dims(*shapes: tuple[Dim, ...]) -> tuple[Dim, ...] | None:
    """The broadcast of equal-rank shapes, or None where ranks differ or two sizes differ and
    neither is 1."""
    if len({len(shape) for shape in shapes}) > 1:
        return None
    out = list(shapes[0])
    for shape in shapes[1:]:
        for i, size in enumerate(shape):
            if out[i] == 1:
                out[i] = size
            elif size not in (1, out[i]):
                return None
    return tuple(out)


def _mismatch(inputs: tuple[TensorType, ...], broadcastable: bool) -> RuleError:
    shapes = " and ".join(str(x) for x in inputs)
    hint = _projection_hint(inputs)
    if broadcastable:
        hint += "; or set `broadcast: true` if the sizes of 1 are meant to broadcast"
    return RuleError(f"inputs have shapes {shapes}; they must be equal", hint=hint)


def _projection_hint(inputs: tuple[TensorType, ...]) -> str:
    """Which input to project, to what: the narrower one, up to the wider one's size."""
    a = inputs[0]
    b = next((x for x in inputs[1:] if x.shape != a.shape), inputs[1])
    if a.rank != b.rank:
        return ("the batch is dim 0 of every input, so ranks must agree; insert size-1 dims "
                "with `unsqueeze` to broadcast")
    if a.rank == b.rank == 4 and a.shape[1] != b.shape[1]:
        narrow, wide = sorted((a, b), key=lambda x: x.shape[1] if isinstance(x.shape[1], int)
                              else 0)
        stride = " and a stride" if narrow.shape[2:] != wide.shape[2:] else ""
        return (f"project the {narrow} input with a 1x1 conv2d of out_channels="
                f"{wide.shape[1]}{stride} (a `downsample` branch)")
    if a.shape[-1] != b.shape[-1]:
        narrow, wide = sorted((a, b), key=lambda x: x.shape[-1] if isinstance(x.shape[-1], int)
                              else 0)
        return f"project the {narrow} input with a linear layer of out_features={wide.shape[-1]}"
    return "check the layers feeding this one; where sizes differ, one must be 1 to broadcast"


class _Broadcasting(Op):
    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = None

    def infer(self, *inputs: TensorType) -> TensorType:
        dtype = _same_dtype(inputs)
        shape = broadcast_dims(*(x.shape for x in inputs))
        if shape is None or not self.broadcasts() and any(x.shape != shape for x in inputs):
            raise _mismatch(inputs, broadcastable=shape is not None)
        return TensorType(shape, dtype)

    def build(self, *inputs: TensorType) -> Build:
        return Build(LAYERS + self.torch_layer)

    def broadcasts(self) -> bool:
        return True


class Add(_Broadcasting):
    """Elementwise sum of two or more tensors of one shape (residual connections)."""

    op: Literal["add"] = "add"
    torch_layer: ClassVar[str] = "Add"
    broadcast: bool = Field(False, description=(
        "Let sizes of 1 broadcast against the other inputs. Off by default: in a residual "
        "connection, a path with 1 channel where the other has 64 is a mistake to report."))

    def broadcasts(self) -> bool:
        return self.broadcast


class Subtract(_Broadcasting):
    """Elementwise difference of two tensors, first minus second; sizes of 1 broadcast."""

    op: Literal["subtract"] = "subtract"
    max_inputs: ClassVar[int | None] = 2
    torch_layer: ClassVar[str] = "tensor.Subtract"


class Multiply(_Broadcasting):
    """Elementwise product (gating); sizes of 1 broadcast: (N, C, 1, 1) * (N, C, H, W)."""

    op: Literal["multiply"] = "multiply"
    torch_layer: ClassVar[str] = "tensor.Multiply"


class MatMul(Op):
    """Batched matrix product: (N, *, M, K) x (N, *, K, P) -> (N, *, M, P).

    The leading dims broadcast (sizes of 1)."""

    op: Literal["matmul"] = "matmul"
    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = 2

    def infer(self, a: TensorType, b: TensorType) -> TensorType:
        _same_dtype((a, b))
        if a.rank != b.rank or a.rank < 3:
            raise RuleError(f"expects two inputs of one rank, (N, *, M, K) and (N, *, K, P), "
                            f"got {a} and {b}",
                            hint="give a vector a dim of size 1 with `unsqueeze`")
        if a.shape[-1] != b.shape[-2]:
            raise RuleError(f"cannot multiply {a} by {b}: {a.shape[-1]} columns against "
                            f"{b.shape[-2]} rows",
                            hint="a `transpose` of the second input (dims -2 and -1) may be "
                            "what is meant")
        lead = broadcast_dims(a.shape[:-2], b.shape[:-2])
        if lead is None:
            raise RuleError(f"the leading dims of {a} and {b} do not broadcast")
        return a.with_shape(*lead, a.shape[-2], b.shape[-1])

    def build(self, a: TensorType, b: TensorType) -> Build:
        return Build(LAYERS + "tensor.MatMul")

    def macs(self, a: TensorType, b: TensorType) -> int:
        out = self.infer(a, b)
        return numel(out.shape) * a.shape[-1]


class Concat(Op):
    """Joins tensors along one dim; all other dims must agree."""

    op: Literal["concat"] = "concat"
    dim: int = Field(1, description="Axis to join along (the batch is axis 0).")
    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = None

    def infer(self, *inputs: TensorType) -> TensorType:
        dtype = _same_dtype(inputs)
        first = inputs[0]
        if any(x.rank != first.rank for x in inputs):
            raise RuleError("inputs have different ranks: " + ", ".join(map(str, inputs)))
        axis = normalize_dim(self.dim, first.rank)
        for x in inputs[1:]:
            for i, (a, b) in enumerate(zip(first.shape, x.shape, strict=True)):
                if i != axis and a != b:
                    raise RuleError(f"inputs {first} and {x} differ in dim {i}, not only in "
                                    f"the joined dim {axis}")
        size = first.shape[axis]
        for x in inputs[1:]:
            size = dim_add(size, x.shape[axis])
        shape = list(first.shape)
        shape[axis] = size
        return TensorType(tuple(shape), dtype)

    def build(self, *inputs: TensorType) -> Build:
        return Build(LAYERS + "Concat", {"dim": self.dim})

"""The op declaration: one class per op holds its config, its shape rule and its builder.

A subclass of `Op` IS the YAML schema of its op (pydantic, frozen, unknown keys forbidden),
`infer` is its torch-free shape rule and `build` says which torch module to make with which
arguments, as plain data, so the same description can instantiate the module and print source.

    class Linear(Op):
        '''Fully connected: y = x W^T + b over the last dim.'''
        op: Literal["linear"] = "linear"
        out_features: PositiveInt = Field(description="size of each output sample")
        bias: bool = Field(True, description="learn an additive bias")

        def infer(self, x):                      # (N, *, in) -> (N, *, out)
            return x.with_shape(*x.shape[:-1], self.out_features)

        def build(self, x):
            return Build("torch.nn.Linear", in_features=x.shape[-1], ...)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from dlspec.errors import RuleError
from dlspec.ir.types import Dim, TensorType

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
IntPair = PositiveInt | tuple[PositiveInt, PositiveInt]
Probability = Annotated[float, Field(ge=0.0, lt=1.0)]


@dataclass(frozen=True)
class InputRole:
    """What values an op expects in one of its inputs, beyond its dtype and shape, so that
    checks (the ONNX Runtime parity check) can feed data that looks real: "ids" are token ids
    in [0, high); "mask" a 0/1 padding mask (1 = real, padding at the end); "adjacency" a 0/1
    float adjacency; "edge_index" node indices in [0, high), `high` the node dim (an int or a
    symbolic name)."""

    kind: str
    high: int | str | None = None


@dataclass(frozen=True)
class Build:
    """Which torch class to instantiate (a dotted path) and its keyword arguments."""

    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)


class Op(BaseModel):
    """Base of every op declaration."""

    # defer_build: an op's validator is built when a spec first uses the op, not for all
    # ~115 declarations at import (a fifth of the op registry's import time)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1

    @classmethod
    def op_name(cls) -> str:
        return cls.model_fields["op"].default

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]

    def infer(self, *inputs: TensorType) -> TensorType:
        """Output type from input types. Raises RuleError; never imports torch."""
        raise RuleError(f"op '{self.op_name()}' has no shape rule")

    def build(self, *inputs: TensorType) -> Build:
        """The torch module for this layer, given its (already checked) input types."""
        raise RuleError(f"op '{self.op_name()}' has no builder")

    def param_shapes(self, *inputs: TensorType) -> dict[str, tuple[int, ...]]:
        """The learnable parameters of the module `build` makes for these inputs, by the names
        torch gives them (`weight`, `bias_hh_l0`, `self_attn.out_proj.weight`), with their
        shapes. Torch-free, so `validate` can check `tie` and `init` globs against them."""
        return {}

    def input_roles(self, *inputs: TensorType) -> tuple[InputRole | None, ...]:
        """The role of each input (None: plain features, drawn N(0, 1) by checks)."""
        return (None,) * len(inputs)

    def param_count(self, *inputs: TensorType) -> int:
        """Learnable parameters of the module `build` makes for these inputs (torch's count)."""
        return sum(numel(shape) for shape in self.param_shapes(*inputs).values())

    def buffer_count(self, *inputs: TensorType) -> int:
        """Elements of the buffers (state that is not learned, like batch norm's running
        statistics) of the module `build` makes for these inputs (torch's count)."""
        return 0

    def macs(self, *inputs: TensorType) -> int:
        """Multiply-accumulates of one forward pass; `inputs` are concrete (every dim an
        int, batch included). Counts products in matmuls, convolutions and attention, not
        elementwise work (activations, norms, adds), as the published figures do."""
        return 0

    def dim_limits(self, *inputs: TensorType) -> list[tuple[Dim, int, str]]:
        """Input dims that may be symbolic but have a most this layer can take: (the dim,
        its largest size, the attribute that sets it). The graph checks each against the
        declared bounds of the inputs' named dims (`dims: {seq: {max: ...}}`)."""
        return []

    def attributes(self) -> dict[str, Any]:
        """The resolved attributes (without `op`), for the IR and the layer table."""
        return self.model_dump(exclude={"op"}, mode="json")


# --- helpers shared by shape rules -------------------------------------------------------


def expect_rank(x: TensorType, ranks: int | tuple[int, ...], layout: str) -> None:
    """Fail unless `x` has one of `ranks` dims (batch included); `layout` names them."""
    allowed = (ranks,) if isinstance(ranks, int) else ranks
    if x.rank not in allowed:
        raise RuleError(f"expects input of shape {layout}, got {x.rank} dims {x}",
                        hint=_rank_hint(x, allowed))


def _rank_hint(x: TensorType, allowed: tuple[int, ...]) -> str | None:
    if x.rank > max(allowed):
        return "add a `flatten` (or `global_avg_pool2d`) layer before this one"
    if x.rank < min(allowed):
        return "check the input shape: image layers need (channels, height, width) per sample"
    return None


def expect_float(x: TensorType) -> None:
    """Fail for integer tensors (token ids), which only some ops accept."""
    if not x.dtype.startswith("float"):
        raise RuleError(f"expects a float tensor, got {x.dtype} {x}", code="DLS202",
                        hint="an embedding layer turns int64 ids into float vectors")


def known(dim: Dim, what: str) -> int:
    """A dim that must be a concrete number (e.g. the features a weight matrix is sized by)."""
    if not isinstance(dim, int):
        raise RuleError(f"{what} must be a fixed size, but it is symbolic ('{dim}')",
                        hint="weights need fixed sizes; keep symbolic dims (like seq) elsewhere")
    return dim


def check_declared(declared: int | None, actual: int, name: str) -> None:
    """An optional user-stated size (in_features, in_channels) must equal the inferred one."""
    if declared is not None and declared != actual:
        raise RuleError(f"input has {actual} {name.split('_', 1)[-1]} but {name}={declared} "
                        f"was given", hint=f"drop {name} to infer it")


def numel(dims) -> int:
    """Product of concrete dims."""
    total = 1
    for dim in dims:
        total *= dim
    return total


def pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def normalize_dim(dim: int, rank: int, *, allow_batch: bool = False) -> int:
    """A possibly negative axis index, checked against `rank` (batch dim is axis 0)."""
    if not -rank <= dim < rank:
        raise RuleError(f"dim {dim} is out of range for a tensor with {rank} dims",
                        code="DLS102")
    dim %= rank
    if dim == 0 and not allow_batch:
        raise RuleError("dim 0 is the batch dimension",
                        hint="axes count the batch as dim 0; the first sample axis is 1",
                        code="DLS102")
    return dim


def expect_sequence(x: TensorType) -> int:
    """Fail unless `x` is a float sequence (N, seq, D) with a fixed D; returns D."""
    expect_rank(x, 3, "(N, seq, D)")
    expect_float(x)
    return known(x.shape[2], "the features D")

"""Positional encodings of token sequences (N, seq, D): learned, sinusoidal and rotary."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dlspec.errors import RuleError
from dlspec.ir.types import Dim, TensorType
from dlspec.ops.base import (
    Build,
    Op,
    PositiveInt,
    expect_float,
    expect_rank,
    expect_sequence,
    known,
)


def base_field():
    """The `base` attribute of the sinusoidal and rotary encodings."""
    return Field(10000.0, gt=1.0, description="Wavelength base of the frequencies, "
                 "angle = position * base^(-2i/d) (10000 in the papers; long-context models "
                 "raise it).")


def expect_even(size: int, what: str) -> None:
    if size % 2:
        raise RuleError(f"{what} is {size}; the encoding pairs features, so it must be even")


class LearnedPosition(Op):
    """Adds a learned (max_len, D) table's first seq rows: (N, seq, D) -> (N, seq, D)."""

    op: Literal["learned_position"] = "learned_position"
    max_len: PositiveInt = Field(
        description="Longest sequence; give a symbolic seq a matching bound "
        "(`dims: {seq: {max: ...}}`).")

    def infer(self, x: TensorType) -> TensorType:
        expect_sequence(x)
        if isinstance(x.shape[1], int) and x.shape[1] > self.max_len:
            raise RuleError(f"the sequence has {x.shape[1]} positions but max_len is "
                            f"{self.max_len}", hint=f"raise max_len to at least {x.shape[1]}")
        return x

    def dim_limits(self, x: TensorType) -> list[tuple[Dim, int, str]]:
        return [(x.shape[1], self.max_len, "max_len")]

    def build(self, x: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.sequence.LearnedPosition",
                     {"num_embeddings": self.max_len, "embedding_dim": x.shape[2]})

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        return {"weight": (self.max_len, x.shape[2])}


class SinusoidalPosition(Op):
    """Adds the fixed sin/cos encoding of Vaswani et al. (no parameters): (N, seq, D) -> same."""

    op: Literal["sinusoidal_position"] = "sinusoidal_position"
    base: float = base_field()

    def infer(self, x: TensorType) -> TensorType:
        expect_even(expect_sequence(x), "D")
        return x

    def build(self, x: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.attention.SinusoidalPosition",
                     {"base": self.base})


class RotaryPosition(Op):
    """Rotary position embedding (RoPE) of queries or keys, no parameters: (N, seq, heads*d)
    or (N, heads, seq, d) -> same."""

    op: Literal["rotary_position"] = "rotary_position"
    heads: PositiveInt | None = Field(
        None, description="Heads the last dim of an (N, seq, D) input is split into, each "
        "rotated on its own (default 1); for (N, heads, seq, d) input it must equal dim 1.")
    base: float = base_field()

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, (3, 4), "(N, seq, heads*d) or (N, heads, seq, d)")
        expect_float(x)
        width = known(x.shape[-1], "the features")
        heads = self._heads(x)
        if width % heads:
            raise RuleError(f"{width} features do not split into {heads} heads", code="DLS102")
        expect_even(width // heads, "the per-head size d")
        return x

    def _heads(self, x: TensorType) -> int:
        if x.rank == 3:
            return self.heads or 1
        if self.heads is not None and self.heads != x.shape[1]:
            raise RuleError(f"heads={self.heads} but the input {x} has {x.shape[1]} heads in "
                            "dim 1", hint="drop `heads` for (N, heads, seq, d) input")
        return 1

    def build(self, x: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.attention.RotaryPosition",
                     {"heads": self._heads(x), "base": self.base, "heads_first": x.rank == 4})

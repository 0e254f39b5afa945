"""Positional encodings of token sequences (N, seq, D): learned, sinusoidal and rotary; and
the sinusoidal embedding of a diffusion timestep (N,) or (N, 1) -> (N, dim)."""

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


class TimestepEmbedding(Op):
    """The sinusoidal embedding of a diffusion timestep (no parameters): (N,) or (N, 1)
    -> (N, dim), `[sin(t f_0) .. sin(t f_{h-1}), cos(t f_0) .. cos(t f_{h-1})]` with h = dim / 2
    and f_i = max_period^(-i/h) (Ho et al. 2020, after Vaswani et al. 2017)."""

    op: Literal["timestep_embedding"] = "timestep_embedding"
    dim: PositiveInt = Field(description="Size of the embedding: its first half the sines, "
                             "its second half the cosines (must be even).")
    max_period: float = Field(10000.0, gt=1.0, description="The longest wavelength: "
                              "frequencies run from 1 down to 1 / max_period, f_i = "
                              "max_period^(-i / (dim / 2)).")

    def infer(self, t: TensorType) -> TensorType:
        if t.rank not in (1, 2) or (t.rank == 2 and t.shape[1] != 1):
            raise RuleError(f"expects one timestep per sample, (N,) or (N, 1), got {t}",
                            hint="declare the timestep input as `{shape: [1], dtype: int64}`")
        expect_even(self.dim, "dim")
        return TensorType((t.shape[0], self.dim), "float32")

    def build(self, t: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.attention.TimestepEmbedding",
                     {"dim": self.dim, "max_period": self.max_period})

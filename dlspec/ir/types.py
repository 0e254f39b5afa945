"""Tensor types for static shape checking: shapes of ints and named symbolic dims, no torch.

A dim is an `int` or a `str`. A string is a symbolic size: a plain name (`N` for the batch,
`seq` for a declared sequence length) or a product of names and a factor (`64*seq`), which is
what flattening a symbolic tensor gives. Anything else a rule computes over symbols becomes an
opaque expression (`(H+2-3)//2+1`) that still compares equal to itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import reduce
from typing import Any

Dim = int | str
BATCH = "N"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


def _monomial(dim: Dim) -> tuple[int, tuple[str, ...]] | None:
    """`dim` as (factor, sorted names) when it is a product, else None."""
    if isinstance(dim, int):
        return dim, ()
    factor, names = 1, []
    for part in dim.split("*"):
        part = part.strip()
        if part.isdigit():
            factor *= int(part)
        elif _NAME.match(part):
            names.append(part)
        else:
            return None
    return factor, tuple(sorted(names))


def _from_monomial(factor: int, names: tuple[str, ...]) -> Dim:
    if not names:
        return factor
    return "*".join(([str(factor)] if factor != 1 else []) + list(names))


def dim_mul(a: Dim, b: Dim) -> Dim:
    ma, mb = _monomial(a), _monomial(b)
    if ma is None or mb is None:
        return f"({a})*({b})"
    return _from_monomial(ma[0] * mb[0], tuple(sorted(ma[1] + mb[1])))


def dim_prod(dims: tuple[Dim, ...] | list[Dim]) -> Dim:
    return reduce(dim_mul, dims, 1)


def dim_div(a: Dim, b: Dim) -> Dim | None:
    """a / b when it divides exactly (symbolically), else None."""
    ma, mb = _monomial(a), _monomial(b)
    if ma is None or mb is None or mb[0] == 0:
        return None
    names = list(ma[1])
    for name in mb[1]:
        if name not in names:
            return None
        names.remove(name)
    if ma[0] % mb[0]:
        return None
    return _from_monomial(ma[0] // mb[0], tuple(names))


def dim_add(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    ma, mb = _monomial(a), _monomial(b)
    if ma and mb and ma[1] == mb[1]:
        return _from_monomial(ma[0] + mb[0], ma[1])
    if isinstance(b, int):  # seq-2, not seq+-2
        return f"{a}{b:+d}" if b else a
    return f"{a}+{b}"


def dim_affine(size: Dim, *, add: int, div: int) -> Dim:
    """floor((size + add) / div) + 1, the output size of a sliding window."""
    if isinstance(size, int):
        return (size + add) // div + 1
    inner = f"{size}{add:+d}" if add else str(size)
    return f"({inner})//{div}+1" if div != 1 else f"{inner}+1"


class SampleShape(list):
    """`${x.shape}`: a tensor's per-sample shape (the batch left out), as a list. Indexing it
    (`${x.shape[1]}`) must give a size known before run time: a symbolic dim is refused
    where it is read (see dlspec/spec/expressions.py)."""


@dataclass(frozen=True)
class TensorType:
    """The type of one tensor: its full shape (batch first) and dtype."""

    shape: tuple[Dim, ...]
    dtype: str = "float32"

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def sample_shape(self) -> tuple[Dim, ...]:
        return self.shape[1:]

    def __str__(self) -> str:
        return "(" + ", ".join(str(d) for d in self.shape) + ")"

    def with_shape(self, *shape: Dim) -> TensorType:
        return TensorType(tuple(shape), self.dtype)

    @property
    def expression_fields(self) -> dict[str, Any]:
        """What `${x.<field>}` may read in a spec."""
        return {
            "shape": SampleShape(self.sample_shape), "rank": self.rank, "dtype": self.dtype,
            "channels": self.shape[1] if self.rank > 1 else None,
            "features": self.shape[-1],
        }

    def to_json(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "dtype": self.dtype}

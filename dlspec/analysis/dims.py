"""Symbolic dims made concrete: bind the batch and named dims (`seq`, `H`) to numbers and
evaluate the expressions shape rules build from them (`64*seq`, `(H-1)//2+1`)."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping

from dlspec.ir.types import Dim, TensorType

_BINARY: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
}


class UnboundDim(KeyError):
    """A symbolic dim has no size; `.name` says which."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def dim_value(dim: Dim, sizes: Mapping[str, int]) -> int:
    """`dim` as a number, its names taken from `sizes` (raises UnboundDim for a missing one)."""
    if isinstance(dim, int):
        return dim
    return _evaluate(ast.parse(dim, mode="eval").body, sizes)


def _evaluate(node: ast.expr, sizes: Mapping[str, int]) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in sizes:
            raise UnboundDim(node.id)
        return sizes[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand, sizes)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_evaluate(node.left, sizes), _evaluate(node.right, sizes))
    raise ValueError(f"not a dim expression: {ast.unparse(node)}")


def bind(tensor: TensorType, sizes: Mapping[str, int]) -> TensorType:
    """The same type with every dim a number."""
    return tensor.with_shape(*(dim_value(d, sizes) for d in tensor.shape))


def dim_names(tensor: TensorType) -> set[str]:
    """The symbolic names a type's dims are made of (the batch `N` included)."""
    names: set[str] = set()
    for dim in tensor.shape:
        if isinstance(dim, str):
            names |= {n.id for n in ast.walk(ast.parse(dim, mode="eval"))
                      if isinstance(n, ast.Name)}
    return names


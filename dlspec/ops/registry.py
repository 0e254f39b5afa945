"""The op registry: every op declaration by name, built from the op modules."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from dlspec.ops.base import Op

OP_MODULES = ("dense", "conv", "activations", "norm", "shape", "merge", "embedding")


def _concrete_ops(cls: type[Op]):
    for sub in cls.__subclasses__():
        if "op" in sub.model_fields and sub.model_fields["op"].default:
            yield sub
        yield from _concrete_ops(sub)


@cache
def op_registry() -> Mapping[str, type[Op]]:
    """Op name -> declaration class, read-only."""
    for module in OP_MODULES:
        importlib.import_module(f"dlspec.ops.{module}")
    table: dict[str, type[Op]] = {}
    for cls in _concrete_ops(Op):
        name = cls.op_name()
        if name in table and table[name] is not cls:
            raise RuntimeError(f"op '{name}' is declared twice: {table[name]} and {cls}")
        table[name] = cls
    return MappingProxyType(dict(sorted(table.items())))

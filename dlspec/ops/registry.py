"""The op registry: every op declaration by name, gathered from the modules of dlspec.ops
(one module per op family; adding a family is adding a module)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from dlspec.ops.base import Op

NOT_FAMILIES = ("base", "registry")


def op_modules() -> list[str]:
    import dlspec.ops

    return sorted(m.name for m in pkgutil.iter_modules(dlspec.ops.__path__)
                  if m.name not in NOT_FAMILIES and not m.name.startswith("_"))


def _concrete_ops(cls: type[Op]):
    for sub in cls.__subclasses__():
        if "op" in sub.model_fields and sub.model_fields["op"].default:
            yield sub
        yield from _concrete_ops(sub)


@cache
def op_registry() -> Mapping[str, type[Op]]:
    """Op name -> declaration class, read-only."""
    for module in op_modules():
        importlib.import_module(f"dlspec.ops.{module}")
    table: dict[str, type[Op]] = {}
    for cls in _concrete_ops(Op):
        name = cls.op_name()
        if name in table and table[name] is not cls:
            raise RuntimeError(f"op '{name}' is declared twice: {table[name]} and {cls}")
        table[name] = cls
    return MappingProxyType(dict(sorted(table.items())))

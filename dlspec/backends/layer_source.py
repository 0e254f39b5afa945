"""The source of dlspec's own layer classes, for standalone emitted Python.

The modules of dlspec.backends.torch_layers import only torch, math and the standard library,
so a class can be copied out of its module with the module-level definitions it uses
(helpers, constants, base classes) and the imports those need. Their files are read and
parsed, not imported. Two modules defining the same name (each its own `ACTIVATIONS`) are
kept apart by renaming the later one's (`ACTIVATIONS_vision`).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ALWAYS = ("from __future__ import annotations", "import torch", "from torch import nn")


@dataclass
class LayerSources:
    imports: list[str] = field(default_factory=lambda: list(ALWAYS))
    blocks: list[str] = field(default_factory=list)  # each a top-level definition
    names: dict[str, str] = field(default_factory=dict)  # dotted target -> name in the file
    _defined: dict[str, str] = field(default_factory=dict)  # name -> its source

    def add_module(self, module: str, classes: list[str]) -> None:
        """Copy `classes` of `module` with everything of that module they use."""
        tree, source = _parse(module)
        definitions = {name: stmt for stmt in tree.body for name in _defined_names(stmt)}
        wanted = _closure(classes, definitions)
        kept = [stmt for stmt in tree.body if set(_defined_names(stmt)) & wanted]
        texts = [ast.get_source_segment(source, stmt, padded=False) for stmt in kept]
        raw = {name: text for stmt, text in zip(kept, texts, strict=True)
               for name in _defined_names(stmt)}
        renames = {name: f"{name}_{module.rsplit('.', 1)[-1]}" for name in sorted(wanted)
                   if self._defined.get(name, raw[name]) != raw[name]}
        for stmt, text in zip(kept, texts, strict=True):
            names = [renames.get(n, n) for n in _defined_names(stmt)]
            if all(n in self._defined for n in names):
                continue  # the same definition, copied from another module
            self.blocks.append(_rename(_with_decorators(source, stmt, text), renames))
            self._defined.update({n: text for n in names})
        used = {n.id for stmt in kept for n in ast.walk(stmt) if isinstance(n, ast.Name)}
        for stmt in tree.body:
            if isinstance(stmt, ast.Import | ast.ImportFrom) and _bound(stmt) & used:
                _check_standalone(stmt, module)
                line = ast.unparse(stmt)
                if line not in self.imports:
                    self.imports.append(line)
        for name in classes:
            self.names[f"{module}.{name}"] = renames.get(name, name)


def layer_sources(targets: Iterable[str]) -> LayerSources:
    """The sources for dlspec layer `targets` (dotted class paths), module by module."""
    by_module: dict[str, list[str]] = {}
    for target in targets:
        module, _, name = target.rpartition(".")
        by_module.setdefault(module, []).append(name)
    sources = LayerSources()
    for module, classes in by_module.items():
        sources.add_module(module, sorted(set(classes)))
    return sources


def _parse(module: str) -> tuple[ast.Module, str]:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"no source for layer module '{module}'")
    source = Path(spec.origin).read_text(encoding="utf-8")
    return ast.parse(source), source


def _defined_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    return []


def _closure(names: list[str], definitions: dict[str, ast.stmt]) -> set[str]:
    """`names` and every module-level definition they reach."""
    wanted, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in wanted or name not in definitions:
            continue
        wanted.add(name)
        todo += [n.id for n in ast.walk(definitions[name]) if isinstance(n, ast.Name)]
    return wanted


def _with_decorators(source: str, stmt: ast.stmt, text: str) -> str:
    decorators = getattr(stmt, "decorator_list", [])
    return "".join(f"@{ast.get_source_segment(source, d)}\n" for d in decorators) + text


def _rename(text: str, renames: dict[str, str]) -> str:
    for old, new in renames.items():
        text = re.sub(rf"(?<![\w.]){re.escape(old)}\b", new, text)
    return text


def _bound(stmt: ast.Import | ast.ImportFrom) -> set[str]:
    return {(alias.asname or alias.name).split(".")[0] for alias in stmt.names}


def _check_standalone(stmt: ast.Import | ast.ImportFrom, module: str) -> None:
    roots = ([alias.name for alias in stmt.names] if isinstance(stmt, ast.Import)
             else [stmt.module or ""])
    for root in (r.split(".")[0] for r in roots):
        if root != "torch" and root not in sys.stdlib_module_names:
            raise ValueError(f"{module} imports '{root}': layer modules may import only "
                             "torch and the standard library")

"""PyTorch source for a checked graph: a plain `nn.Module` a person could have written, with no
dependency on dlspec (`dlspec compile --emit-python model.py`).

`__init__` builds each layer at the attribute path the compiled module uses (`layer1[0].conv1`
for `layer1.0.conv1`), so the compiled module's state dict loads into it strictly; tied
weights are tied again. `forward` has one line per layer with the output shape as a comment.
dlspec's own layer classes are copied in (see layer_source.py).
"""

from __future__ import annotations

import importlib
import inspect
import keyword
import math
import re
import textwrap
from typing import Any

from dlspec.backends.layer_source import layer_sources
from dlspec.backends.python_forward import forward_lines, module_path
from dlspec.backends.torch_module import ALLOWED_TARGETS, class_name, layer_build
from dlspec.ir.graph import Graph
from dlspec.ops.base import Build

DLSPEC_LAYERS = "dlspec.backends.torch_layers."


def emit_python(graph: Graph, name: str, origin: str = "") -> str:
    """The source of a module computing `graph`; `origin` (the spec file) goes in its header."""
    builds = {node.name: layer_build(graph, node) for node in graph.layers()}
    for build in builds.values():
        if not build.target.startswith(ALLOWED_TARGETS):
            raise ValueError(f"cannot emit '{build.target}': not a torch.nn or dlspec layer")
    sources = layer_sources(b.target for b in builds.values()
                            if b.target.startswith(DLSPEC_LAYERS))
    model = class_name(name)
    if model in sources.names.values():
        model += "Model"
    lines = [
        f'"""{_docstring_text(name)}: PyTorch source written by dlspec from '
        f'{_docstring_text(origin or "a spec")}.',
        "",
        "Standalone (needs only torch). Parameter names are the compiled model's, so its",
        "state dict loads as is (and so do a dlspec checkpoint's tensors, less the entries",
        "under `_dlspec.`). Parameters start from torch's default initialization.\"\"\"",
        "", *_grouped(sources.imports), "", "",
    ]
    lines += [block + "\n\n" for block in sources.blocks]
    lines += [f"class {model}(nn.Module):", "    def __init__(self) -> None:",
              "        super().__init__()"]
    lines += [_wrapped("        " + line) for line in init_lines(graph, builds, sources.names)]
    lines += ["", *("    " + line if line else "" for line in forward_lines(graph))]
    return "\n".join(lines) + "\n"


def _docstring_text(text: str) -> str:
    """`text` as it may stand inside the module's triple-quoted docstring and read back as
    itself: backslashes, quotes, line breaks and every unprintable character escaped, so
    that no file name can end the docstring and add statements to the module."""
    return "".join(character if character.isprintable() and character not in '\\"'
                   else _escape(character) for character in text)


def _escape(character: str) -> str:
    code = ord(character)
    if character in '\\"':
        return "\\" + character
    return f"\\x{code:02x}" if code < 0x100 else (
        f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


def _grouped(imports: list[str]) -> list[str]:
    """`from __future__` first, then the standard library, then torch, a blank line apart."""
    future = [i for i in imports if "__future__" in i]
    torch = sorted((i for i in imports if re.match(r"(import|from) torch\b", i)),
                   key=lambda i: (i.startswith("from"), i))
    rest = sorted(set(imports) - set(future) - set(torch))
    groups = [g for g in (future, rest, torch) if g]
    return [line for group in groups for line in ([""] if group is not groups[0] else [])
            + group]


def _wrapped(line: str, width: int = 99) -> str:
    """A long `a = f(k=v, ...)` line as `a = f(` and the arguments on an indented line."""
    head, paren, arguments = line.partition("(")
    if len(line) <= width or not paren or "=" not in head:
        return line
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return head + "(\n" + "\n".join(textwrap.wrap(
        arguments, width, initial_indent=indent, subsequent_indent=indent,
        break_long_words=False, break_on_hyphens=False))


def init_lines(graph: Graph, builds: dict[str, Build], names: dict[str, str]) -> list[str]:
    """Containers for block instances, one line per layer, then the ties."""
    layers = [node.name for node in graph.layers()]
    lines, made = [], set()
    for qualified in layers:
        parts = qualified.split(".")
        for depth in range(1, len(parts)):
            container = ".".join(parts[:depth])
            if container not in made:  # items of a ModuleList exist already
                made.add(container)
                kind = _container(container, layers)
                lines.append(_assign(container, kind))
                if kind.startswith("nn.ModuleList"):
                    made |= {f"{container}.{i}" for i in range(kind.count("nn.Module()"))}
        lines.append(_assign(qualified, _constructor(builds[qualified], names)))
    for node in graph.layers():
        tie = getattr(node, "tie", None)
        if tie:
            lines.append(f"{module_path(node.name)}.weight = {module_path(tie)}.weight"
                         "  # tied: one parameter")
    return lines


def _container(path: str, layers: list[str]) -> str:
    """nn.ModuleList for repeats (children 0, 1, ...), else an empty nn.Module."""
    children = {q[len(path) + 1:].split(".")[0] for q in layers if q.startswith(path + ".")}
    if children == {str(i) for i in range(len(children))}:
        return f"nn.ModuleList([{', '.join(['nn.Module()'] * len(children))}])"
    return "nn.Module()"


def _constructor(build: Build, names: dict[str, str]) -> str:
    cls = _target_class(build.target)
    expression = names.get(build.target) or "nn." + build.target.removeprefix("torch.nn.")
    defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
    arguments = [f"{key}={literal(value)}" for key, value in build.kwargs.items()
                 if not _is_default(value, defaults.get(key, inspect.Parameter.empty))]
    return f"{expression}({', '.join(arguments)})"


def _target_class(target: str) -> type:
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _is_default(value: Any, default: Any) -> bool:
    """Exactly the default (1 and (1, 1) differ: some modules keep what they are given)."""
    return type(value) is type(default) and value == default


def literal(value: Any) -> str:
    """Python source for a plain value (what a Build's arguments are)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write a {type(value).__name__} as Python source: {value!r}")


def _assign(qualified: str, value: str) -> str:
    owner, _, last = qualified.rpartition(".")
    target = module_path(owner) if owner else "self"
    if last.isdigit():
        return f"{target}[{last}] = {value}"
    if keyword.iskeyword(last):
        return f"{target}.add_module({last!r}, {value})"
    return f"{target}.{last} = {value}"

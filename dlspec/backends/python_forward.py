"""The `forward` of emitted PyTorch source: one line per layer, shape comments, and variable
names as a person would choose them: a chain reuses `x` (`x = self.conv1(x)`), a value still
needed later (a residual's input) keeps its name while a branch computes into `out`."""

from __future__ import annotations

import keyword
import re

from dlspec.ir.graph import Graph, Node

RESERVED = {"self", "torch", "nn", "math", "F"}


def forward_lines(graph: Graph) -> list[str]:
    """`def forward(...)` and its body, indented as a method body relative to the class."""
    order = graph.layers()
    done = len(order)
    last_use: dict[str, int] = {name: done for name in graph.outputs}
    for step, node in enumerate(order):
        for source in node.inputs:
            last_use[source] = max(last_use.get(source, step), step)
    variable = {name: python_name(name) for name in graph.inputs}
    signature = ", ".join(f"{variable[n]}: torch.Tensor" for n in graph.inputs)
    returns = ("torch.Tensor" if len(graph.outputs) == 1
               else f"tuple[{', '.join(['torch.Tensor'] * len(graph.outputs))}]")
    lines = [f"def forward(self, {signature}) -> {returns}:"]
    for step, node in enumerate(order):
        live = {variable[n] for n, last in last_use.items() if n in variable and last > step}
        variable[node.name] = _choose(node, step, variable, last_use, live, set(graph.inputs))
        arguments = ", ".join(variable[source] for source in node.inputs)
        lines.append(f"    {variable[node.name]} = {module_path(node.name)}({arguments})"
                     f"  # {_shape(node)}")
    lines.append(f"    return {', '.join(variable[name] for name in graph.outputs)}")
    return lines


def _choose(node: Node, step: int, variable: dict[str, str], last_use: dict[str, int],
            live: set[str], inputs: set[str]) -> str:
    """Reuse the name of an input this layer reads last (`x` first), else a free name."""
    dying = [variable[s] for s in node.inputs if s not in inputs and last_use[s] == step]
    if dying:
        return "x" if "x" in dying else dying[0]
    taken = live | {variable[n] for n in inputs}
    local = python_name(node.name.rsplit(".", 1)[-1])
    for candidate in ("x", "out", local, python_name(node.name)):
        if candidate not in taken:
            return candidate
    return next(f"{local}_{i}" for i in range(1, len(variable) + 2) if f"{local}_{i}" not in taken)


def python_name(name: str) -> str:
    """A layer or input name as a Python variable."""
    text = re.sub(r"\W", "_", name)
    if text[:1].isdigit():
        text = "_" + text
    return text + "_" if keyword.iskeyword(text) or text in RESERVED else text


def module_path(qualified: str) -> str:
    """`self.layer1[0].conv1` for layer1.0.conv1."""
    text = "self"
    for part in qualified.split("."):
        if part.isdigit():
            text += f"[{part}]"
        elif keyword.iskeyword(part) or not re.fullmatch(r"[A-Za-z_]\w*", part):
            text = f"getattr({text}, {part!r})"
        else:
            text += f".{part}"
    return text


def _shape(node: Node) -> str:
    shape = str(node.type)
    return shape if node.type.dtype == "float32" else f"{shape} {node.type.dtype}"

"""Lower a loaded spec to the graph IR: expand blocks and repeats, resolve expressions and
layer references, validate each layer against its op declaration. Collects every problem.

Layers may reference any layer of their own scope by name (earlier or later: a later one
can only make a cycle, which is reported), `x`-style block inputs inside a block, and
qualified names (`layer1.0.conv1`) of layers inside a block instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from pydantic import ValidationError

from dlspec.errors import Diagnostic, SourceSpan, SpecError, suggest
from dlspec.ir.graph import Graph, Node
from dlspec.ir.types import BATCH, TensorType
from dlspec.ops.registry import op_registry
from dlspec.passes.blocks import BlockCall, expand_call
from dlspec.spec.diagnose import diagnose
from dlspec.spec.expressions import FAILED, has_expression
from dlspec.spec.load import LoadedSpec, resolve_tree, without_cascade
from dlspec.spec.models import FRAME_KEYS, NAME_PATTERN
from dlspec.spec.yaml_source import Path_, SourceMap


@dataclass(frozen=True)
class Ref:
    """A layer reference, resolved once every layer exists."""

    text: str
    scope: Scope
    span: SourceSpan


@dataclass(eq=False)
class Scope:
    prefix: str  # "" at top level, "layer1.0." inside a block instance
    params: Mapping[str, Any]
    names: dict[str, str | Ref] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)  # layers that failed (already reported)


class Lowering:
    def __init__(self, loaded: LoadedSpec):
        self.loaded = loaded
        self.source: SourceMap = loaded.source
        self.graph = Graph()
        self.problems: list[Diagnostic] = []
        self.registry = op_registry()

    # --- entry ------------------------------------------------------------------------

    def run(self) -> Graph:
        spec = self.loaded.spec
        top = Scope("", self.loaded.params)
        for name, config in spec.inputs.items():
            shape = tuple(config.shape)
            self.check_dim_bounds(name, config)
            self.graph.add(Node(name, None, [], self.source.key_span(("inputs", name)),
                                TensorType((BATCH, *shape), config.dtype)))
            self.graph.inputs.append(name)
            top.names[name] = name
        first = next(iter(spec.inputs)) if len(spec.inputs) == 1 else None
        last = self.lower_layers(self.loaded.raw["model"], ("model",), top, first)
        self.graph.outputs = self.resolve_outputs(spec.outputs, top, last)
        self.resolve_references()
        if not self.problems:
            self.graph.connect()
            self.check_cycles()
        if self.problems:
            raise SpecError(self.problems)
        return self.graph

    def check_dim_bounds(self, name: str, config: Any) -> None:
        named = [d for d in config.shape if isinstance(d, str)]
        for dim in config.dims:
            if dim not in named:
                self.problems.append(Diagnostic(
                    "DLS102", f"dims bounds '{dim}', which is not a dim of input '{name}' "
                    f"{list(config.shape)}", self.source.key_span(("inputs", name, "dims", dim)),
                    hint=suggest(dim, named) if named else "name a dim in `shape` first"))

    # --- layers -----------------------------------------------------------------------

    def lower_layers(self, items: list[Any], path: Path_, scope: Scope,
                     previous: str | Ref | None) -> str | Ref | None:
        """Lower a list of layer items into `scope`; returns the last one's output."""
        names = self.assign_names(items, path, scope)
        for index, (item, name) in enumerate(zip(items, names, strict=True)):
            item_path = (*path, index)
            if not isinstance(item, dict):
                self.problems.append(Diagnostic(
                    "DLS102", "a layer is a mapping like {op: linear, out_features: 10}",
                    self.source.span(item_path)))
                continue
            inputs = self.input_refs(item, item_path, scope, previous)
            if "block" in item:
                output = expand_call(self, BlockCall(item, item_path, scope, name, inputs))
            else:
                output = self.lower_op(item, item_path, scope, name, inputs)
            if output is not None:
                scope.names[name] = output
                previous = output
            else:
                scope.failed.add(name)
        return previous

    def assign_names(self, items: list[Any], path: Path_, scope: Scope) -> list[str]:
        """Each item's local name: its own, or `<op>`, `<op>_1`, ... like torch.fx."""
        taken: set[str] = set(scope.names)
        explicit: dict[str, int] = {}
        given: list[Any] = []
        for index, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            item_path = (*path, index, "name")
            if has_expression(name):  # e.g. "proj_${d}"
                name = resolve_tree(name, scope.params, self.source, item_path, self.problems)
                if name is FAILED:
                    name = None  # reported; an automatic name stands in
            given.append(name)
            if name is None:
                continue
            if not isinstance(name, str) or not _is_name(name):
                self.problems.append(Diagnostic(
                    "DLS102", f"layer name {name!r} must be a plain identifier",
                    self.source.span(item_path), hint="letters, digits and _; no dots"))
            elif name in explicit or name in scope.names:
                self.problems.append(Diagnostic(
                    "DLS303", f"duplicate layer name '{name}'", self.source.span(item_path),
                    hint="give each layer its own name"))
            if isinstance(name, str):
                explicit[name] = index
                taken.add(name)
        names = []
        for item, name in zip(items, given, strict=True):
            if not isinstance(name, str):
                base = str(item.get("op") or item.get("block") or "layer") \
                    if isinstance(item, dict) else "layer"
                name, k = base, 0
                while name in taken:
                    k += 1
                    name = f"{base}_{k}"
                taken.add(name)
            names.append(name)
        return names

    def input_refs(self, item: dict, path: Path_, scope: Scope,
                   previous: str | Ref | None) -> list[str | Ref]:
        given = item.get("inputs")
        if given is None:
            if previous is None:
                self.problems.append(Diagnostic(
                    "DLS301", "this layer has no input: the spec has several inputs",
                    self.source.span(path), hint="name one with `inputs: <input name>`"))
                return []
            return [previous]
        refs = [given] if isinstance(given, str) else given
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            self.problems.append(Diagnostic("DLS102", "inputs must be a layer name or a list "
                                            "of them", self.source.span((*path, "inputs"))))
            return []
        single = isinstance(given, str)
        return [Ref(r, scope, self.source.span((*path, "inputs") if single
                                               else (*path, "inputs", i)))
                for i, r in enumerate(refs)]

    def lower_op(self, item: dict, path: Path_, scope: Scope, name: str,
                 inputs: list[str | Ref]) -> str | None:
        qualified = scope.prefix + name
        op_name = item.get("op")
        if op_name not in self.registry:
            hint = suggest(str(op_name), self.registry) if op_name else \
                "add `op: <name>`, or `block: <name>` to use a block"
            code, message = ("DLS104", f"unknown op '{op_name}'") if op_name else \
                ("DLS103", "a layer needs `op:` or `block:`")
            self.problems.append(Diagnostic(code, message, self.source.span((*path, "op")
                                 if op_name else path), layer=qualified, hint=hint))
            return None
        if "repeat" in item:
            self.problems.append(Diagnostic(
                "DLS102", "`repeat` applies to blocks", self.source.key_span((*path, "repeat")),
                layer=qualified, hint="wrap the layers to repeat in a block"))
        attributes = {k: v for k, v in item.items() if k not in FRAME_KEYS or k == "op"}
        attributes = resolve_tree(attributes, scope.params, self.source, path, self.problems)
        cls = self.registry[op_name]
        try:
            op = cls.model_validate(attributes)
        except ValidationError as exc:
            found = diagnose(exc, attributes, self.source, base=path, model=cls,
                             extra_keys=FRAME_KEYS, layer=qualified, op=op_name)
            self.problems += without_cascade(found, attributes, self.source, path)
            return None
        self.graph.add(Node(qualified, op, inputs, self.source.span(path),  # type: ignore[arg-type]
                            scope=scope.prefix.rstrip(".")))
        return qualified

    # --- references -------------------------------------------------------------------

    def resolve(self, ref: str | Ref) -> str | None:
        while isinstance(ref, Ref):
            scope, text = ref.scope, ref.text
            if text in scope.names:
                target = scope.names[text]
            elif "." in text and scope.prefix + text in self.graph:
                target = scope.prefix + text
            elif text.split(".")[0] in scope.failed:
                return None  # that layer's own error was reported
            else:
                self.problems.append(Diagnostic(
                    "DLS301", f"unknown layer or input '{text}'", ref.span,
                    hint=suggest(text, scope.names)))
                return None
            ref = target
        return ref

    def resolve_references(self) -> None:
        for node in self.graph.nodes():
            resolved = [self.resolve(ref) for ref in node.inputs]
            node.inputs = [r for r in resolved if r is not None]

    def resolve_outputs(self, outputs: list[str] | None, scope: Scope,
                        last: str | Ref | None) -> list[str]:
        if outputs is None:
            found = self.resolve(last) if last is not None else None
            return [found] if found else []
        result = []
        for i, text in enumerate(outputs):
            path = ("outputs", i) if ("outputs", i) in self.source.values else ("outputs",)
            if text.split(".")[0] in scope.failed and text not in self.graph:
                continue  # that layer's own error was reported
            if text not in scope.names and text not in self.graph:
                self.problems.append(Diagnostic(
                    "DLS305", f"unknown output '{text}'", self.source.span(path),
                    hint=suggest(text, scope.names)))
                continue
            result.append(self.resolve(Ref(text, scope, self.source.span(path))) or text)
        return result

    def check_cycles(self) -> None:
        try:
            cycle = nx.find_cycle(self.graph.nx)
        except nx.NetworkXNoCycle:
            return
        names = [edge[0] for edge in cycle]
        first = self.graph.node(names[0])
        self.problems.append(Diagnostic(
            "DLS302", "layers form a cycle: " + " -> ".join([*names, names[0]]), first.span,
            layer=first.name, hint="a layer can only use layers that do not depend on it"))


def _is_name(text: str) -> bool:
    import re

    return re.match(NAME_PATTERN, text) is not None


def lower(loaded: LoadedSpec) -> Graph:
    """The spec's model as a graph. Raises SpecError listing every problem."""
    return Lowering(loaded).run()

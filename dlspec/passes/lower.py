"""Lower a loaded spec to the graph IR: expand blocks and repeats, resolve expressions and
layer references, validate each layer against its op declaration. Collects every problem.

Layers may reference any layer of their own scope by name (earlier or later: a later one
can only make a cycle, which is reported), `x`-style block inputs inside a block, and
qualified names (`layer1.0.conv1`) of layers inside a block instance. A layer with a false
`when` is skipped (the next layer takes the previous one's output); an item with `layers:`
is an inline group in its own scope. Expressions may read the tensor types of inputs and
earlier layers (`${x.channels}`), which are inferred on demand.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from dlspec.backends.onnx_inputs import BATCH as ONNX_BATCH
from dlspec.errors import Diagnostic, RuleError, SpecError, suggest
from dlspec.ir.graph import Graph, Node
from dlspec.ir.types import BATCH, TensorType
from dlspec.ops.registry import op_registry
from dlspec.passes.blocks import BlockCall, expand_call
from dlspec.passes.budget import LayerBudget
from dlspec.passes.data_scope import with_data
from dlspec.passes.infer_shapes import check_arity
from dlspec.passes.references import SKIPPED, ExpressionScope, Ref, ReferenceResolution, Scope
from dlspec.spec.diagnose import diagnose
from dlspec.spec.expressions import FAILED, has_expression
from dlspec.spec.init import layer_init
from dlspec.spec.load import LoadedSpec, resolve_tree, without_cascade
from dlspec.spec.models import (
    FRAME_KEYS,
    GROUP_KEYS,
    NAME_PATTERN,
    ModelSection,
    reserved_name,
)
from dlspec.spec.yaml_source import Path_, SourceMap

OP_FRAME_KEYS = tuple(k for k in FRAME_KEYS if k not in ("block", "layers", "repeat"))


class Lowering(ReferenceResolution, LayerBudget):
    def __init__(self, loaded: LoadedSpec, section: ModelSection):
        self.loaded = loaded
        self.section = section
        self.source: SourceMap = loaded.source
        self.graph = Graph()
        self.problems: list[Diagnostic] = []
        self.registry = op_registry()
        self._inferring: set[str] = set()
        self._failed: set[str] = set()  # layers whose type cannot be known (a rule failed)
        self.calls: dict[str, int | None] = {}  # block calls -> repeat (see passes/instances)
        self.instances: dict[str, str | Ref] = {}  # block instances -> their outputs
        self.skipped_layers: set[str] = set()  # qualified layers whose `when` was false

    # --- entry ------------------------------------------------------------------------

    def run(self) -> Graph:
        section = self.section
        top = Scope("", with_data(self.loaded, section, self.problems))  # + `${data.x}`
        for name, config in section.inputs.items():
            shape = tuple(config.shape)
            self.check_dim_bounds(name, config)
            self.graph.add(Node(name, None, [], self.source.key_span(section.at("inputs", name)),
                                TensorType((BATCH, *shape), config.dtype)))
            self.graph.inputs.append(name)
            top.names[name] = name
        first = next(iter(section.inputs)) if len(section.inputs) == 1 else None
        layers_path = section.at("layers")
        layers = self.loaded.raw
        for key in layers_path:
            layers = layers[key]
        last = self.lower_layers(layers, layers_path, top, first)
        self.graph.outputs = self.resolve_outputs(section.outputs, top, last)
        self.resolve_references()
        if not self.problems:
            self.graph.connect()
            self.check_cycles()
        if self.problems:
            raise SpecError(self.problems)
        return self.graph

    def check_dim_bounds(self, name: str, config: Any) -> None:
        """Named dims are not the batch's and their bounds name them and can be met."""
        named = [d for d in config.shape if isinstance(d, str)]
        for index, dim in enumerate(config.shape):
            if dim in (BATCH, ONNX_BATCH):
                self.problems.append(Diagnostic(
                    "DLS102", f"'{dim}' names the batch dim, which is implicit (the shape is "
                    "per sample)", self.source.span(self.section.at("inputs", name, "shape",
                                                                    index)),
                    hint="give this dim another name, like 'seq'"))
        for dim, bounds in config.dims.items():
            if bounds.max is not None and bounds.min > bounds.max:
                self.problems.append(Diagnostic(
                    "DLS102", f"dim '{dim}' has min {bounds.min} above its max {bounds.max}",
                    self.source.span(self.section.at("inputs", name, "dims", dim, "min")),
                    hint="no size fits: lower min or raise max"))
        for dim in config.dims:
            if dim not in named:
                self.problems.append(Diagnostic(
                    "DLS102", f"dims bounds '{dim}', which is not a dim of input '{name}' "
                    f"{list(config.shape)}", self.source.key_span(
                        self.section.at("inputs", name, "dims", dim)),
                    hint=suggest(dim, named) if named else "name a dim in `shape` first"))

    # --- layers -----------------------------------------------------------------------

    def lower_layers(self, items: list[Any], path: Path_, scope: Scope,
                     previous: str | Ref | None) -> str | Ref | None:
        """Lower a list of layer items into `scope`; returns the last one's output."""
        if not self.room_for(items, path, scope.prefix.rstrip(".") or None):
            return None
        names = self.assign_names(items, path, scope)
        scope.later.update(names)
        for index, (item, name) in enumerate(zip(items, names, strict=True)):
            item_path = (*path, index)
            if self.stopped or not self.count_item(item_path, scope.prefix + name):
                return None
            if not isinstance(item, dict):
                self.problems.append(Diagnostic(
                    "DLS102", "a layer is a mapping like {op: linear, out_features: 10}",
                    self.source.span(item_path)))
                continue
            scope.later.discard(name)
            inputs = self.input_refs(item, item_path, scope, previous)
            if "when" in item:
                keep = self.condition(item, item_path, scope, inputs)
                if not keep:
                    if keep is None:
                        scope.failed.add(name)
                    else:
                        scope.names[name] = SKIPPED
                        self.skipped_layers.add(scope.prefix + name)
                    continue
            if "block" in item:
                output = expand_call(self, BlockCall(item, item_path, scope, name, inputs))
            elif "layers" in item and "op" not in item:
                output = self.lower_group(item, item_path, scope, name, inputs)
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
            elif reserved_name(name):
                self.problems.append(Diagnostic(
                    "DLS102", f"layer name '{name}' is taken: the compiled torch module "
                    "already has it (or it is a Python keyword)", self.source.span(item_path),
                    hint=f"call it e.g. '{name}_'"))
            elif name in explicit or name in scope.names:
                self.problems.append(Diagnostic(
                    "DLS303", f"duplicate layer name '{name}'", self.source.span(item_path),
                    hint="give each layer its own name"))
            if isinstance(name, str):
                explicit[name] = index
                taken.add(name)
        names = []
        last: dict[str, int] = {}  # per base, the number it last took: n layers, O(n) work
        for item, name in zip(items, given, strict=True):
            if not isinstance(name, str):
                kind = (item.get("op") or item.get("block") or
                        ("group" if "layers" in item else "layer")) \
                    if isinstance(item, dict) else "layer"
                base = kind if isinstance(kind, str) and _is_name(kind) else "layer"
                k = last.get(base, 0)
                name = f"{base}_{k}" if k else base
                while name in taken or reserved_name(name):
                    k += 1
                    name = f"{base}_{k}"
                last[base] = k
                taken.add(name)
            names.append(name)
        return names

    def expression_scope(self, scope: Scope, inputs: list[str | Ref]) -> ExpressionScope:
        return ExpressionScope(self, scope, inputs[0] if inputs else None)

    def condition(self, item: dict, path: Path_, scope: Scope,
                  inputs: list[str | Ref]) -> bool | None:
        """The item's `when`: True, False, or None when it failed (reported)."""
        value = resolve_tree(item["when"], self.expression_scope(scope, inputs), self.source,
                             (*path, "when"), self.problems)
        if value is FAILED:
            return None
        if not isinstance(value, bool):
            self.problems.append(Diagnostic(
                "DLS102", f"`when` must be true or false, got {value!r}",
                self.source.span((*path, "when")), layer=scope.prefix + str(item.get("name")),
                hint='compare something, e.g. "${stride != 1 or x.channels != out}"'))
            return None
        return value

    def lower_group(self, item: dict, path: Path_, scope: Scope, name: str,
                    inputs: list[str | Ref]) -> str | Ref | None:
        """An inline group (`{name: downsample, layers: [...]}`): its layers in a scope of
        their own that still sees the names around it; its output is its last layer's."""
        for key in item:
            if key not in GROUP_KEYS:
                self.problems.append(Diagnostic(
                    "DLS101", f"unknown key '{key}' in a group of layers",
                    self.source.key_span((*path, key)), layer=scope.prefix + name,
                    hint=suggest(key, GROUP_KEYS)))
        layers = item["layers"]
        if not isinstance(layers, list) or not layers:
            self.problems.append(Diagnostic("DLS102", "`layers` is a non-empty list of layers",
                                            self.source.span((*path, "layers"))))
            return None
        group = Scope(f"{scope.prefix}{name}.", scope.params, parent=scope)
        return self.lower_layers(layers, (*path, "layers"), group, inputs[0] if inputs else None)

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
        if op_name is not None and not isinstance(op_name, str):
            one = op_name[0] if isinstance(op_name, list) and len(op_name) == 1 else None
            self.problems.append(Diagnostic(
                "DLS102", f"`op` is the name of one op, got {op_name!r}"[:120],
                self.source.span((*path, "op")), layer=qualified,
                hint=f"write `op: {one}`" if isinstance(one, str) else
                "e.g. `op: linear`; several layers are several items of the list"))
            return None
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
        attributes = resolve_tree(attributes, self.expression_scope(scope, inputs), self.source,
                                  path, self.problems)
        cls = self.registry[op_name]
        try:
            op = cls.model_validate(attributes)
        except ValidationError as exc:
            found = diagnose(exc, attributes, self.source, base=path, model=cls,
                             extra_keys=OP_FRAME_KEYS, layer=qualified, op=op_name)
            self.problems += without_cascade(found, attributes, self.source, path)
            return None
        node = Node(qualified, op, inputs, self.source.span(path),  # type: ignore[arg-type]
                    scope=scope.prefix.rstrip("."))
        if "tie" in item:
            node.tie = self.tie_ref(item, path, scope)
            node.places["tie"] = self.source.span((*path, "tie"))
        node.init, node.init_strict = layer_init(
            self.loaded.spec.init.get(op_name, {}), item.get("init"), self.source,
            (*path, "init"), self.problems)
        node.places |= {f"init.{glob}": self.source.key_span((*path, "init", glob))
                        for glob in node.init_strict}
        self.graph.add(node)
        return qualified

    def tie_ref(self, item: dict, path: Path_, scope: Scope) -> Ref | None:
        if isinstance(item["tie"], str):
            return Ref(item["tie"], scope, self.source.span((*path, "tie")))
        self.problems.append(Diagnostic("DLS102", "`tie` names the layer whose weight this "
                                        "layer shares", self.source.span((*path, "tie"))))
        return None

    # --- types on demand ----------------------------------------------------------------

    def type_of(self, name: str) -> TensorType | None:
        """The output type of a lowered node, inferring its ancestors first; None when it
        cannot be known (yet, or ever: an error the shape pass reports).

        Each layer is inferred at most once: a failure is remembered, and so is the failure
        of every layer fed by a failed one. Without that, a failing layer at the top of a
        chain of concats (a dense block) is re-inferred along every path, 2^depth times.
        """
        node = self.graph.node(name)
        if node.type is not None or node.is_input or name in self._inferring:
            return node.type
        if name in self._failed:
            return None
        self._inferring.add(name)
        try:
            sources = [self.peek(ref) for ref in node.inputs]
            if any(s is None or s not in self.graph for s in sources):
                return None  # not lowered yet, or its own error is reported
            types = [self.type_of(s) for s in sources]  # type: ignore[arg-type]
            if any(t is None for t in types):
                if any(s in self._failed for s in sources):
                    self._failed.add(name)
                return None
            check_arity(node)
            node.type = node.op.infer(*types)  # type: ignore[union-attr]
        except RuleError:
            self._failed.add(name)
            return None
        finally:
            self._inferring.discard(name)
        return node.type

    # --- references -------------------------------------------------------------------

    def check_cycles(self) -> None:
        import networkx as nx

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
    return re.match(NAME_PATTERN, text) is not None


def lower(loaded: LoadedSpec, model: str | None = None) -> Graph:
    """One model of the spec (default: the first) as a graph. Raises SpecError listing
    every problem."""
    return lower_all(loaded, [model] if model else None)[model or
                                                        loaded.spec.sections()[0].name]


def check_model_names(loaded: LoadedSpec, models: list[str]) -> None:
    """Raise SpecError (with suggestions) for names that are not models of the spec."""
    sections = [s.name for s in loaded.spec.sections()]
    unknown = [m for m in models if m not in sections]
    if unknown:
        raise SpecError([Diagnostic("DLS305", f"the spec has no model '{m}'",
                                    loaded.source.span(("name",)),
                                    hint=suggest(m, sections)) for m in unknown])


def lower_all(loaded: LoadedSpec, models: list[str] | None = None) -> dict[str, Graph]:
    """The spec's models (all, or those named) as graphs, by name; every problem of every
    model is reported together."""
    sections = {s.name: s for s in loaded.spec.sections()}
    check_model_names(loaded, models or [])
    graphs, problems = {}, []
    for name in models or sections:
        try:
            graphs[name] = Lowering(loaded, sections[name]).run()
        except SpecError as err:
            problems += err.diagnostics
    if problems:
        raise SpecError(problems)
    return graphs

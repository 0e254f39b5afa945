"""Names while lowering: scopes, layer references, layers skipped by `when`, and the values
`${...}` expressions see (params, and the tensor types of inputs and earlier layers).

A scope maps local names to what they stand for: a qualified layer name, a Ref still to be
resolved, SKIPPED (a layer whose `when` was false) or UNCONNECTED (an optional block input
the call left out, which behaves like a skipped layer and reads as null in `${...}`). Scopes
nest: an inline group sees the names of the scope around it. A reference may list fallbacks,
`downsample ?? x`: the first one that is not skipped is used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dlspec.errors import Diagnostic, RuleError, SourceSpan, suggest
from dlspec.passes.instances import BlockInstances
from dlspec.spec.expressions import FAILED, INPUT_NAME

if TYPE_CHECKING:
    from dlspec.passes.lower import Lowering


class Skipped:
    def __repr__(self) -> str:
        return "<skipped layer>"


class Unconnected(Skipped):
    def __repr__(self) -> str:
        return "<unconnected block input>"


SKIPPED = Skipped()
UNCONNECTED = Unconnected()


@dataclass(frozen=True)
class Ref:
    """A layer reference, resolved once every layer exists."""

    text: str
    scope: Scope
    span: SourceSpan

    @property
    def alternatives(self) -> list[str]:
        return [part.strip() for part in self.text.split("??")]


@dataclass(eq=False)
class Scope:
    prefix: str  # "" at top level, "layer1.0." inside a block instance
    params: Mapping[str, Any]
    names: dict[str, str | Ref | Skipped] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)  # layers that failed (already reported)
    later: set[str] = field(default_factory=set)  # names of layers not lowered yet
    parent: Scope | None = None  # the scope around an inline group

    def lookup(self, name: str) -> tuple[Scope, str | Ref | Skipped] | None:
        """Where `name` is defined, from this scope outwards, and what it stands for."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope, scope.names[name]
            scope = scope.parent
        return None

    def has_failed(self, name: str) -> bool:
        scope: Scope | None = self
        while scope is not None:
            if name.split(".")[0] in scope.failed:
                return True
            scope = scope.parent
        return False

    def visible_names(self) -> list[str]:
        names: list[str] = []
        scope: Scope | None = self
        while scope is not None:
            names += [n for n in scope.names if n not in names]
            scope = scope.parent
        return names


class ReferenceResolution(BlockInstances):
    """Turning references into qualified layer names, for the Lowering (which holds
    `graph`, `problems`, `source` and `section`)."""

    graph: Any
    problems: list[Diagnostic]
    source: Any
    section: Any

    def peek(self, ref: str | Ref) -> str | None:
        """What `ref` refers to, without reporting anything (None: not known)."""
        return self.resolve(ref, report=False)

    def resolve(self, ref: str | Ref, report: bool = True) -> str | None:
        while isinstance(ref, Ref):
            target = self._target(ref, report)
            if target is None:
                return None
            ref = target
        return ref

    def _target(self, ref: Ref, report: bool) -> str | Ref | None:
        """One step: the first of `ref`'s alternatives that names a layer not skipped."""
        scope, skipped, unconnected = ref.scope, [], ""  # (the call that leaves it out)
        for text in ref.alternatives:
            found = scope.lookup(text)
            if found is not None and isinstance(found[1], Skipped):
                skipped.append(text)
                unconnected = found[0].prefix.rstrip(".") if found[1] is UNCONNECTED \
                    else unconnected
                continue
            if found is not None:
                return found[1]  # type: ignore[return-value]
            qualified = self.is_qualified_layer(text, scope)
            if qualified is not None:
                return qualified
            instance = self.instance_output(text, scope)
            if instance is not None:
                return instance
            if scope.has_failed(text):
                return None  # that layer's own error was reported
            head = self._skipped_head(text, scope)
            if head is not None:
                skipped.append(head)
                continue
            if report:
                self.report_unknown(text, ref)
            return None
        if report and unconnected:
            self.add_problem(Diagnostic(
                "DLS306", f"block input '{skipped[-1]}' is not connected in '{unconnected}' "
                "(the call leaves it out)", ref.span,
                hint=f"fall back to another layer: `{skipped[-1]} ?? x`, or keep this layer "
                     f"only where it is connected: when: \"${{{skipped[-1]} != null}}\""))
        elif report:
            self.add_problem(Diagnostic(
                "DLS306", f"layer '{skipped[-1]}' is skipped here (its `when` is false)",
                ref.span, hint=f"fall back to another layer: `{skipped[-1]} ?? x`"))
        return None

    def add_problem(self, problem: Diagnostic) -> None:
        """A reference's problem, once (a block input's reference is resolved where the block
        reads it, and may be again by an expression)."""
        if problem not in self.problems:
            self.problems.append(problem)

    def report_unknown(self, text: str, ref: Ref) -> None:
        scope = ref.scope
        head = text.split(".")[0]
        elsewhere = ("." in text and scope.lookup(head) is None
                     and self.instance_hint(text, scope) is None)
        self.add_problem(Diagnostic(
            "DLS301", f"unknown layer or input '{text}'" + (
                f": '{head}' is not a layer of this model, and a model refers to its "
                "own layers and inputs only (models share no layers or weights)"
                if elsewhere else ""), ref.span,
            hint=self.instance_hint(text, scope) or suggest(
                text, [*scope.visible_names(), *self.instance_names(scope)])))

    def _skipped_head(self, text: str, scope: Scope) -> str | None:
        """The skipped layer (`when`) a dotted name is in: `aux` of `aux.fc` or `inception4`
        of `inception4.0` where the call was skipped, `up1.merge` of `up1.merge` where the
        layer inside the instance was."""
        if "." not in text:
            return None
        found = scope.lookup(text.split(".")[0])
        if found is not None and isinstance(found[1], Skipped):
            return text.split(".")[0]
        return self.skipped_inside(text, scope)

    def resolve_references(self) -> None:
        for node in self.graph.nodes():
            resolved = [self.resolve(ref) for ref in node.inputs]
            node.inputs = [r for r in resolved if r is not None]
            if isinstance(node.tie, Ref):
                node.tie = self.resolve(node.tie)

    def resolve_outputs(self, outputs: list[str] | None, scope: Scope,
                        last: str | Ref | None) -> list[str]:
        if outputs is None:
            found = self.resolve(last) if last is not None else None
            return [found] if found else []
        result, dropped = [], []
        for i, text in enumerate(outputs):
            path = self.section.at("outputs", i)
            if path not in self.source.values:
                path = self.section.at("outputs")
            ref = Ref(text, scope, self.source.span(path))
            if scope.has_failed(text) and text not in self.graph:
                continue  # that layer's own error was reported
            if all(self._skipped(a, scope) for a in ref.alternatives):
                dropped.append(text)  # a conditional output: its layer's `when` is false
                continue
            first = ref.alternatives[0]
            if scope.lookup(first) is None and self.is_qualified_layer(first, scope) is None \
                    and self.instance_output(first, scope) is None:
                self.problems.append(Diagnostic(
                    "DLS305", f"unknown output '{text}'", self.source.span(path),
                    hint=self.instance_hint(first, scope) or suggest(
                        text, [*scope.names, *self.instance_names(scope)])))
                continue
            result.append(self.resolve(ref) or text)
        if dropped and not result and len(dropped) == len(outputs):
            self.problems.append(Diagnostic(
                "DLS305", f"every output of the model is skipped ({', '.join(dropped)}: their "
                "`when` is false)", self.source.span(self.section.at("outputs")),
                hint="keep one output without a `when`, e.g. the classifier"))
        return result

    def _skipped(self, text: str, scope: Scope) -> bool:
        found = scope.lookup(text)
        return (found is not None and isinstance(found[1], Skipped)) \
            or self._skipped_head(text, scope) is not None



class ExpressionScope(Mapping[str, Any]):
    """What a layer's `${...}` can read: params first, then inputs and layers of its scope as
    tensor types (`x.channels`, `x.shape`, `in.features`), inferred on demand."""

    def __init__(self, lowering: Lowering, scope: Scope, first_input: str | Ref | None):
        self.lowering = lowering
        self.scope = scope
        self.first_input = first_input

    def _reference(self, name: str) -> str | Ref | None:
        if name == INPUT_NAME:
            return self.first_input
        found = self.scope.lookup(name)
        if found is None or isinstance(found[1], Skipped):
            return None
        return found[1]  # type: ignore[return-value]

    def _unconnected(self, name: str) -> bool:
        found = self.scope.lookup(name)
        return found is not None and found[1] is UNCONNECTED

    def __getitem__(self, name: str) -> Any:
        if name in self.scope.params:
            return self.scope.params[name]
        if self._unconnected(name):
            return None  # an optional block input the call left out
        ref = self._reference(name)
        if ref is None:
            if name in self.scope.later:
                raise RuleError(f"the shape of '{name}' is not known here", code="DLS111",
                                hint="expressions can read the dims of inputs and earlier "
                                     "layers")
            raise KeyError(name)
        qualified = self.lowering.peek(ref)
        if qualified is None:
            if isinstance(ref, Ref):  # a block input the call gives: its problem is said here,
                self.lowering.resolve(ref)  # as a `when` that fails drops the layer using it
            return FAILED  # else its own problem is reported where it is defined
        found = self.lowering.type_of(qualified)
        return FAILED if found is None else found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self.scope.params or name in self.scope.later
                                          or self._reference(name) is not None
                                          or self._unconnected(name))

    def __iter__(self) -> Iterator[str]:
        yield from self.scope.params
        yield from (n for n in self.scope.visible_names() if n not in self.scope.params)

    def __len__(self) -> int:
        return sum(1 for _ in self)

"""Block instances by name: `inception4.0` is the output of instance 0 of the call
`{block: inception, name: inception4, repeat: 5}` (`inception4` alone is the last one's), and
`inception4.0.branch1` a layer inside it. A wrong instance name gets a hint that points at the
right one: instances count from 0 (`inception4.5` of five is `inception4.4`), and the letters
of the papers and of torchvision (`inception4a`, `Mixed_6b`) count a, b, c, ... from 0 too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from dlspec.errors import did_you_mean

if TYPE_CHECKING:
    from dlspec.passes.references import Ref, Scope

_STEP = re.compile(r"^(?:\.(\d+)|[._]?([a-z]))(?=\.|$)")  # ".4" / "a" / "_a" / ".a"


class BlockInstances:
    """Mixed into Lowering, which provides `graph` and sets `calls` and `instances` to empty
    dicts: qualified block calls -> their `repeat` (None without one), qualified instance
    names -> the instance's output."""

    graph: Any
    calls: dict[str, int | None]
    instances: dict[str, str | Ref]
    skipped_layers: set[str]  # qualified names of the layers whose `when` was false

    def record_call(self, qualified: str, repeat: int | None) -> None:
        self.calls[qualified] = repeat

    def record_instance(self, qualified: str, output: str | Ref) -> None:
        self.instances[qualified] = output

    def instance_output(self, text: str, scope: Scope) -> str | Ref | None:
        """What `text` names when it is a block instance seen from `scope` (or None)."""
        for prefix in _prefixes(scope):
            if prefix + text in self.instances:
                return self.instances[prefix + text]
        return None

    def instance_names(self, scope: Scope) -> list[str]:
        """The instances `scope` can name, as it names them."""
        return [name[len(scope.prefix):] for name in self.instances
                if name.startswith(scope.prefix)]

    def skipped_inside(self, text: str, scope: Scope) -> str | None:
        """The part of the dotted name `text` that names a layer skipped inside a block
        instance or group (`up1.merge`, also for `up1.merge.conv`), as `scope` names it."""
        parts = text.split(".")
        for prefix in _prefixes(scope):
            for end in range(2, len(parts) + 1):
                if prefix + ".".join(parts[:end]) in self.skipped_layers:
                    return ".".join(parts[:end])
        return None

    def is_qualified_layer(self, text: str, scope: Scope) -> str | None:
        """The qualified name of the layer `text` (`layer1.0.conv1`) names from `scope`."""
        for prefix in _prefixes(scope):
            if "." in text and prefix + text in self.graph:
                return prefix + text
        return None

    def instance_hint(self, text: str, scope: Scope) -> str | None:
        """A hint for a dotted or lettered name that misses a block instance, or None."""
        for prefix in _prefixes(scope):
            hint = self._hint_at(prefix, text)
            if hint:
                return hint
        return None

    def _hint_at(self, prefix: str, text: str) -> str | None:
        full = prefix + text
        calls = sorted((c for c in self.calls if full.startswith(c) and len(full) > len(c)),
                       key=len, reverse=True)
        for call in calls:
            step = _STEP.match(full[len(call):])
            if step is None and full[len(call)] == ".":
                break  # `mixed6a.x` names the call mixed6a, not a letter of mixed6
            if step is None:
                continue
            local, repeat = call[len(prefix):], self.calls[call]
            tail = full[len(call) + step.end():]
            if repeat is None and step.group(2):
                continue  # `units` for `unit`: a plain misspelling
            if repeat is None:
                return self._single(prefix, local, tail)
            index = int(step.group(1)) if step.group(1) else ord(step.group(2)) - ord("a")
            numbered = (f"'{local}' has {repeat} instance{'s' * (repeat > 1)}, numbered from "
                        f"0: " + (f"{local}.0 to {local}.{repeat - 1}" if repeat > 1
                                  else f"{local}.0"))
            if step.group(2) and index >= repeat:
                continue  # not a letter that names an instance
            if index >= repeat:
                guess = f"{local}.{repeat - 1}{tail}" if index == repeat else None
                return f"did you mean '{guess}'? ({numbered})" if guess else numbered
            if step.group(2):  # a letter: the paper's / torchvision's name of that instance
                return (f"did you mean '{local}.{index}{tail}'? (letters count from a, "
                        f"instances from 0; {numbered})")
            return self._inside(prefix, f"{call}.{index}", text) or numbered
        head = text.split(".")[0]
        return did_you_mean(text, self._names_in(prefix, prefix + head)) if "." in text else None

    def _single(self, prefix: str, local: str, tail: str) -> str:
        """`stage1.0.conv` where stage1 has no `repeat`: its layers are `stage1.conv`."""
        meant = f"{local}{tail}"
        known = meant if (not tail or prefix + meant in self.calls
                          or meant in self._names_in(prefix, prefix + local)) else None
        shown = f"did you mean '{known}'? " if known else ""
        return (f"{shown}('{local}' is a single instance, without `repeat`: its layers are "
                f"{local}.<layer>)")

    def _names_in(self, prefix: str, outer: str) -> list[str]:
        """The layers and instances inside `outer` (a call, instance or group), as named from
        a scope with `prefix`."""
        names: dict[str, None] = {}  # each node's name and its dotted prefixes, in order
        for node in self.graph.nodes():
            parts = node.name.split(".")
            for end in range(1, len(parts) + 1):
                names[".".join(parts[:end])] = None
        return [n[len(prefix):] for n in names if n.startswith(outer + ".")]

    def _inside(self, prefix: str, instance: str, text: str) -> str | None:
        """A close name among the layers and instances inside `instance`."""
        names = self._names_in(prefix, instance)
        return did_you_mean(text, names) or (
            f"'{instance[len(prefix):]}' has no layer '{text[len(instance) - len(prefix) + 1:]}'"
            if names else None)


def _prefixes(scope: Scope) -> list[str]:
    """The prefixes a name is looked up under: its own scope's, then the enclosing ones'."""
    found: list[str] = []
    current: Scope | None = scope
    while current is not None:
        if current.prefix not in found:
            found.append(current.prefix)
        current = current.parent
    return found

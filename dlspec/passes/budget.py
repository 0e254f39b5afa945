"""The layer budget of the lowering pass: a model expands to at most MAX_LAYERS layer items
(every layer, block use and group, skipped ones too), so a spec cannot make validate run
without end: a repeat is checked after its first instance (dlspec/passes/blocks.py), a list of
layers before its items are named, and every item as it is lowered."""

from __future__ import annotations

from dlspec.errors import Diagnostic
from dlspec.spec.limits import MAX_LAYERS
from dlspec.spec.yaml_source import Path_, SourceMap


class LayerBudget:
    """Mixed into Lowering, which provides `source` and `problems`."""

    source: SourceMap
    problems: list[Diagnostic]
    items_lowered: int = 0  # layer items, block uses and groups lowered so far
    stopped: bool = False  # the model grew past MAX_LAYERS (reported once)

    def count_item(self, path: Path_, qualified: str) -> bool:
        """Count one more item against MAX_LAYERS; False (reported) past it."""
        self.items_lowered += 1
        if self.items_lowered <= MAX_LAYERS:
            return True
        self.too_many(path, qualified)
        return False

    def too_many(self, path: Path_, qualified: str | None) -> None:
        self.over_budget(Diagnostic(
            "DLS102", f"the model expands to more than {MAX_LAYERS:_} layers (blocks, "
            "repeats and groups expanded)", self.source.span(path), layer=qualified,
            hint="split the model, or lower a `repeat`"))

    def over_budget(self, diagnostic: Diagnostic) -> None:
        """Stop lowering this model: it would grow past MAX_LAYERS."""
        if not self.stopped:
            self.problems.append(diagnostic)
        self.stopped = True

    def room_for(self, items: list, path: Path_, scope: str | None) -> bool:
        """Whether a list of `items` fits in what is left (checked before they are named);
        reported when it does not."""
        if len(items) <= MAX_LAYERS - self.items_lowered:
            return True
        self.too_many((*path, max(MAX_LAYERS - self.items_lowered, 0)), scope)
        return False

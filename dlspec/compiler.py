"""The front half of the pipeline, torch-free: spec file -> validated, shape-checked graph."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dlspec.errors import Diagnostic
from dlspec.ir.graph import Graph
from dlspec.passes.infer_shapes import infer_shapes, unused_layers
from dlspec.passes.lower import lower
from dlspec.spec.load import LoadedSpec, load_spec


@dataclass
class CheckedSpec:
    """A spec that passed every static check, with its shape-annotated graph."""

    loaded: LoadedSpec
    graph: Graph
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def spec(self):
        return self.loaded.spec


def check_spec(path: str | Path, overrides: Sequence[str] = ()) -> CheckedSpec:
    """Load, lower and shape-check a spec. Raises DlspecError with every problem found."""
    loaded = load_spec(path, overrides)
    graph = infer_shapes(lower(loaded))
    return CheckedSpec(loaded, graph, unused_layers(graph))

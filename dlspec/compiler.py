"""The front half of the pipeline, torch-free: spec file -> validated, shape-checked graphs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from dlspec.errors import Diagnostic, ShapeError, SpecError
from dlspec.ir.graph import Graph
from dlspec.passes.check_params import param_diagnostics
from dlspec.passes.dim_limits import dim_limit_diagnostics
from dlspec.passes.infer_shapes import infer_shapes, once_per_place, unused_layers
from dlspec.passes.lower import check_model_names, lower_all
from dlspec.spec.load import LoadedSpec, load_spec


@dataclass
class CheckedSpec:
    """A spec that passed every static check, with the shape-annotated graph of each of its
    models; `graph` is the chosen one (the first, unless `check_spec` was given a model)."""

    loaded: LoadedSpec
    graphs: dict[str, Graph]
    model: str
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def spec(self):
        return self.loaded.spec

    @property
    def graph(self) -> Graph:
        return self.graphs[self.model]

    @property
    def inputs(self):
        """The chosen model's input declarations (name -> InputConfig)."""
        return next(s.inputs for s in self.spec.sections() if s.name == self.model)


def check_spec(path: str | Path, overrides: Sequence[str] = (),
               model: str | None = None, origin: Path | None = None) -> CheckedSpec:
    """Load, lower and shape-check a spec (every model in it). Raises DlspecError with every
    problem found; `model` picks which model `graph` is; `origin`: where the spec's relative
    paths start from, when not at `path` (a run folder's copy of a spec)."""
    loaded = load_spec(path, overrides)
    if origin is not None:
        loaded = replace(loaded, path=Path(origin))
    if model is not None:
        check_model_names(loaded, [model])
    graphs = lower_all(loaded)
    sections = {section.name: section for section in loaded.spec.sections()}
    problems: list[Diagnostic] = []
    for name, graph in graphs.items():
        try:
            infer_shapes(graph)
        except ShapeError as err:
            problems += err.diagnostics
        problems += dim_limit_diagnostics(graph, sections[name].inputs)
    if problems:
        raise ShapeError(problems)
    for graph in graphs.values():
        problems += param_diagnostics(graph, loaded.source)
    if problems:
        problems = once_per_place(problems)
        raise (ShapeError if {d.code for d in problems} == {"DLS201"} else SpecError)(problems)
    warnings = [w for graph in graphs.values() for w in unused_layers(graph)]
    return CheckedSpec(loaded, graphs, model or next(iter(graphs)), warnings)

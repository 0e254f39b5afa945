"""Check a spec's `objective:` against its models and sections, torch-free: the models the
objective's roles name exist, every model of the spec has a role, a per-model optimizer or
schedule names a trained model, and an objective that computes its own losses gets no
`loss:` section. Also gives the view of the spec its data is checked against: the model the
objective feeds from the data."""

from __future__ import annotations

from dataclasses import replace

from dlspec.compiler import CheckedSpec
from dlspec.errors import Diagnostic, suggest
from dlspec.train.objectives import OBJECTIVES
from dlspec.train.objectives.base import ObjectiveConfig, RoleError, Roles
from dlspec.train.objectives.supervised import SupervisedConfig


def objective_of(spec) -> ObjectiveConfig:
    """The spec's objective (supervised when it gives none)."""
    return spec.objective or SupervisedConfig()


def roles_of(spec) -> Roles:
    """The roles of the spec's objective (RoleError for a model it lacks)."""
    config = objective_of(spec)
    return OBJECTIVES[config.op].plan(config, spec)


def objective_diagnostics(checked: CheckedSpec) -> list[Diagnostic]:
    """Every disagreement between the objective and the spec, located at its key."""
    spec, source = checked.spec, checked.loaded.source
    config = objective_of(spec)
    if spec.models is not None and config.op == "supervised":
        if spec.data is None and spec.objective is None:
            return []  # a model definition: it compiles and exports, each model on its own
        where = ("objective",) if spec.objective is not None else ("data",)
        return [Diagnostic(
            "DLS402", f"this spec has {len(spec.models)} models ({', '.join(spec.models)}), "
            "and the supervised objective trains one", source.key_span(where),
            hint="say how they train together, e.g. `objective: {op: gan, generator: G, "
                 "discriminator: D}`; or train each model from a spec of its own")]
    try:
        roles = OBJECTIVES[config.op].plan(config, spec)
    except RoleError as error:
        return [Diagnostic("DLS402", str(error), source.span(("objective", error.key)),
                           hint=error.hint)]
    problems = []
    if spec.models is not None:
        for name in spec.models:
            if name not in roles.models:
                problems.append(Diagnostic(
                    "DLS402", f"model '{name}' has no role in the {config.op} objective (it "
                    f"uses {', '.join(roles.models)})", source.key_span(("models", name)),
                    hint="remove the model, or name it in `objective:`"))
    for section in ("optimizer", "schedule"):
        value = getattr(spec, section)
        if not isinstance(value, dict):
            continue
        for name in value:
            if name not in roles.trained:
                problems.append(Diagnostic(
                    "DLS402", f"`{section}` is given for '{name}', which the {config.op} "
                    f"objective does not train (it trains {', '.join(roles.trained)})",
                    source.key_span((section, name)), hint=suggest(name, roles.trained)))
    objective = OBJECTIVES[config.op]
    problems += [problem.at(source.span(key)) for key, problem in
                 [*objective.problems(config, spec), *objective.graph_problems(config, checked)]]
    if not roles.reads_loss and spec.loss is not None:
        problems.append(Diagnostic(
            "DLS402", f"the {config.op} objective computes its own losses, so `loss:` would "
            "not be used", source.key_span(("loss",)),
            hint="remove `loss:`; set the objective's own options under `objective:`"))
    return problems


def data_view(checked: CheckedSpec) -> CheckedSpec:
    """The spec with the model its data feeds chosen (for a `models:` spec with data and a
    valid objective), so that the data checks and `load_data` see that model."""
    spec = checked.spec
    if spec.models is None or spec.data is None or objective_of(spec).op == "supervised":
        return checked
    try:
        return replace(checked, model=roles_of(spec).data_model)
    except RoleError:
        return checked


def fed_inputs(checked: CheckedSpec) -> tuple[str, ...]:
    """The inputs of the chosen model that its data feeds: every one, unless its objective
    feeds some itself (Roles.data_inputs)."""
    names = tuple(checked.graph.inputs)
    if checked.spec.data is None:
        return names
    try:
        roles = roles_of(checked.spec)
    except RoleError:
        return names
    if roles.data_inputs is None or roles.data_model != checked.model:
        return names
    return tuple(name for name in names if name in roles.data_inputs)

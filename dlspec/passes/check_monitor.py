"""Check the metric names a spec watches against those a run of it will log. Torch-free.

A run logs, per epoch, train_<key> for each key of its loss ('loss', then 'loss_<term>' per
term when there are several) and, when the val split is not empty, val_<key> and
val_<metric> for each metric of its task (train.metrics, else the task's own; none when no
loss term scores the data's targets). `regularization.early_stopping.monitor` and a
`reduce_on_plateau` schedule's `monitor` must name one of them; `train.metrics` must suit
the task. Training checks the same when it starts (dlspec/train/engine/setup.py).
"""

from __future__ import annotations

from dlspec.compiler import CheckedSpec
from dlspec.errors import Diagnostic, did_you_mean, one_of
from dlspec.passes.check_data import task_of
from dlspec.passes.check_objective import objective_of
from dlspec.train.objectives import OBJECTIVES
from dlspec.train.recipe import MetricChoiceError, default_loss, metric_names
from dlspec.train.recipe.loss_config import loss_keys, scored_output

EMPTY_VAL = "the val split is empty: give data.split a val fraction, or monitor train_loss"


def logged_metrics(checked: CheckedSpec) -> tuple[list[str], list[Diagnostic]]:
    """The names a run of the spec logs (train_loss, val_loss, val_accuracy, ...), and the
    problems of `train.metrics`."""
    spec = checked.spec
    config = objective_of(spec)
    if config.op != "supervised":
        keys, names = OBJECTIVES[config.op].logged(config, spec)
        return [*(f"train_{key}" for key in keys),
                *(f"val_{key}" for key in (*keys, *names) if has_val(checked))], []
    task = task_of(spec)
    keys = loss_keys(spec.loss if spec.loss is not None else default_loss(task))
    asked, where = spec.train.metrics, checked.loaded.source.span(("train", "metrics"))
    names: tuple[str, ...] = ()
    problems = []
    try:
        names = metric_names(task, asked,
                             scored=scored_output(spec.loss, checked.graph.outputs) is not None)
    except MetricChoiceError as error:
        problems.append(Diagnostic("DLS102", str(error), where, hint=error.hint))
    logged = [f"train_{key}" for key in keys]
    if has_val(checked):
        logged += [f"val_{key}" for key in (*keys, *names)]
    return logged, problems


def has_val(checked: CheckedSpec) -> bool:
    data = checked.spec.data
    return data is None or data.split[1] > 0


def monitor_diagnostics(checked: CheckedSpec) -> list[Diagnostic]:
    """A monitor (early stopping's, reduce_on_plateau's) naming a metric the run does not log,
    with 'did you mean', and a `train.metrics` the task cannot report; located at their
    keys."""
    spec = checked.spec
    if spec.models is not None and objective_of(spec).op == "supervised":
        return []  # several models and no objective: check_objective refuses it with data
    logged, problems = logged_metrics(checked)
    if problems:
        return problems  # the metrics are not known: what is logged is not either
    watched = []
    stopping = spec.regularization.early_stopping if spec.regularization else None
    if stopping is not None:
        watched.append(("early_stopping", stopping.monitor,
                        ("regularization", "early_stopping", "monitor")))
    per_model = spec.schedule.items() if isinstance(spec.schedule, dict) else [
        (None, spec.schedule)]
    for model, given in per_model:
        base = ("schedule",) if model is None else ("schedule", model)
        listed = isinstance(given, list)
        for index, schedule in enumerate(given if listed else [given] if given else []):
            if getattr(schedule, "op", None) == "reduce_on_plateau":
                path = (*base, index, "monitor") if listed else (*base, "monitor")
                watched.append(("reduce_on_plateau", schedule.monitor, path))
    source = checked.loaded.source
    for who, name, path in watched:
        if name in logged:
            continue
        problems.append(Diagnostic(
            "DLS102", f"{who} monitors '{name}', which this run does not log", source.span(path),
            hint=monitor_hint(checked, name, logged)))
    return problems


def monitor_hint(checked: CheckedSpec, name: str, logged: list[str]) -> str:
    """What to watch instead of `name`, which the run does not log."""
    close = did_you_mean(name, logged)
    return EMPTY_VAL if name.startswith("val_") and not has_val(checked) \
        else f"{close} (the run logs {one_of(logged)})" if close else one_of(logged)

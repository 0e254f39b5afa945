"""What a search leaves: the table of its trials, best.yaml, parameter importances and plots.

best.yaml is the spec of the best trial, resolved: the spec file with the --set values and
the trial's values written in, without its `search:` section, relative file paths made
absolute, so that `dlspec train best.yaml` trains that configuration as it is.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from dlspec.errors import Diagnostic, SearchError
from dlspec.files import atomic_path, atomic_write_text
from dlspec.search.trials import FAIL_REASON, INTERRUPTED


def trial_line(trial: FrozenTrial, metric: str) -> str:
    """One line for a finished trial: number, state, value, params, time, why it failed."""
    value = f"  {metric} {trial.value:.4f}" if trial.value is not None else ""
    if trial.state == TrialState.PRUNED and trial.intermediate_values:
        value = f"  at epoch {max(trial.intermediate_values)}"
    params = " ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    reason = trial.user_attrs.get(FAIL_REASON)
    why = f"  ({reason.splitlines()[0]})" if reason and trial.state == TrialState.FAIL else ""
    return (f"trial {trial.number}  {_state(trial)}{value}  {params}  "
            f"{_seconds(trial.duration)}{why}")


def _state(trial: FrozenTrial) -> str:
    if trial.state == TrialState.FAIL and trial.user_attrs.get(INTERRUPTED):
        return "INTERRUPTED"
    if trial.state == TrialState.FAIL and "retry_history" in trial.system_attrs:
        return "FAIL (retry)"
    return trial.state.name


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _seconds(duration: timedelta | None) -> str:
    return "-" if duration is None else f"{duration.total_seconds():.1f}s"


def trial_table(trials: Sequence[FrozenTrial], metric: str, best: int | None):
    """A rich table of the trials: number, state, value, each parameter, time, message."""
    from rich.table import Table

    names = list(dict.fromkeys(name for t in trials for name in t.params))
    table = Table(title="trials", title_justify="left")
    for column in ("#", "state", metric, *names, "time", "message"):
        table.add_column(column, justify="right" if column not in ("state", "message")
                         else "left", overflow="fold")
    for trial in trials:
        reason = trial.user_attrs.get(FAIL_REASON, "") if trial.state == TrialState.FAIL else ""
        if trial.state == TrialState.PRUNED and trial.intermediate_values:
            reason = f"stopped after epoch {max(trial.intermediate_values)}"
        value = "" if trial.value is None else f"{trial.value:.4f}"
        table.add_row(f"{trial.number}{' *' if trial.number == best else ''}", _state(trial),
                      value, *(_short(trial.params[n]) if n in trial.params else ""
                               for n in names),
                      _seconds(trial.duration), (reason.splitlines() or [""])[0][:120])
    return table


def best_trial(trials: Sequence[FrozenTrial], direction: str) -> FrozenTrial | None:
    """The complete trial with the best finite value (the first of equals)."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None
                and math.isfinite(t.value)]
    if not complete:
        return None
    sign = -1.0 if direction == "maximize" else 1.0
    return min(complete, key=lambda t: (sign * t.value, t.number))


def best_spec_text(spec: Path, overrides: Sequence[str], header: str) -> str:
    """The spec at `spec` with `overrides` applied, without `search:`, as YAML."""
    import yaml

    from dlspec.spec.load import apply_override
    from dlspec.spec.spec_file import read_spec_file
    from dlspec.spec.yaml_source import read_yaml

    data, source = read_yaml(read_spec_file(Path(spec)), str(spec))
    for override in overrides:
        problems = apply_override(data, source, override)
        if problems:
            raise SearchError(problems)
    data.pop("search", None)
    _absolute_paths(data, Path(spec).resolve().parent)
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True,
                          width=100)
    return "".join(f"# {line}\n" for line in header.splitlines()) + body


def _absolute_paths(data: dict[str, Any], base: Path) -> None:
    """Files named relative to the spec's folder (data.path, train.init_from.path) keep
    naming the same file from best.yaml's folder."""
    for section, key in (("data", "path"), ("train", "init_from")):
        holder = data.get(section)
        if section == "train" and isinstance(holder, dict):
            holder = holder.get(key)
            key = "path"
        if isinstance(holder, dict) and isinstance(holder.get(key), str) and \
                "${" not in holder[key] and not Path(holder[key]).is_absolute():
            holder[key] = str(base / holder[key])


def write_best(path: Path, spec: Path, overrides: Sequence[str], trial: FrozenTrial,
               metric: str, study: str) -> Path:
    """best.yaml: the best trial's resolved spec (atomically)."""
    from dlspec.search.space import trial_overrides

    every = [*overrides, *trial_overrides(trial.params)]
    header = (f"best trial {trial.number} of study '{study}': {metric} {trial.value:.6g}\n"
              f"from {spec} with --set {' '.join(every)}" if every else
              f"best trial {trial.number} of study '{study}': {metric} {trial.value:.6g}")
    atomic_write_text(path, best_spec_text(spec, every, header))
    return path


def no_best(study: str, trials: Sequence[FrozenTrial]) -> SearchError:
    states = ", ".join(f"{sum(t.state == s for t in trials)} {s.name.lower()}"
                       for s in (TrialState.PRUNED, TrialState.FAIL))
    return SearchError(Diagnostic(
        "DLS711", f"no trial of study '{study}' completed ({len(trials)} trials: {states}); "
                  "there is no best spec to write",
        hint="see each trial's message in the table; run more trials with --trials N"))


def importances(study: optuna.Study, trials: Sequence[FrozenTrial]) -> dict[str, float]:
    """Parameter importances (Optuna's fANOVA) once 2 trials completed and the space has
    more than one parameter; {} otherwise, or when they cannot be computed."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if len(complete) < 2 or len({n for t in complete for n in t.params}) < 2:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError, ZeroDivisionError):  # e.g. every value equal
        return {}


def write_plots(study: optuna.Study, folder: Path, trials: Sequence[FrozenTrial]) -> list[Path]:
    """PNG plots (optimization history; with 2 complete trials, parallel coordinates and
    slices), each written atomically into `folder`."""
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")  # files only, never a window
    from optuna.visualization import matplotlib as plots

    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        return []
    makers = {"history.png": plots.plot_optimization_history}
    if len(complete) >= 2 and complete[0].params:
        makers |= {"parallel_coordinate.png": plots.plot_parallel_coordinate,
                   "slice.png": plots.plot_slice}
    written = []
    for name, make in makers.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            axes = make(study)
        figure = _figure(axes)
        try:
            figure.set_size_inches(max(figure.get_size_inches()[0], 6.4), 4.8)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                figure.tight_layout()
            with atomic_path(Path(folder) / name, suffix=".png") as tmp:
                figure.savefig(tmp, dpi=100, format="png")
        finally:
            import matplotlib.pyplot as plt

            plt.close(figure)
        written.append(Path(folder) / name)
    return written


def _figure(axes: Any) -> Any:
    first = axes.flat[0] if hasattr(axes, "flat") else axes
    return first.get_figure()


def summary_lines(best: FrozenTrial | None, importance: Mapping[str, float], metric: str,
                  counts: Mapping[str, int]) -> list[str]:
    lines = [", ".join(f"{n} {state}" for state, n in counts.items() if n)]
    if best is not None:
        params = " ".join(f"{k}={_short(v)}" for k, v in best.params.items())
        lines.append(f"best: trial {best.number}, {metric} {best.value:.4f}  {params}")
    if importance:
        lines.append("importance: " + ", ".join(f"{k} {v:.2f}" for k, v in importance.items()))
    return lines

"""A spec's `search:` section as plain values `dlspec search` runs: the plan (metric,
direction, budget, sampler, pruner) and its dimensions, each of which suggests its value to an
Optuna trial. Torch-free, and Optuna-free until a trial is given.

A dimension's name is its spec path, the same path `--set` takes (`optimizer.lr`,
`params.hidden`, `model.3.repeat`, `expansion`); `trial_overrides` turns a trial's values back
into `--set` overrides that `dlspec.spec.load.apply_override` reads as the same values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import product
from numbers import Integral, Real
from typing import Any, Literal

from dlspec.errors import Diagnostic, SpecError
from dlspec.spec.search_config import ChoiceSpace, FloatSpace, IntSpace, SearchConfig
from dlspec.train.config_base import default_mode

DEFAULT_TRIALS = 20  # without `trials` and `timeout` (and not a grid)
MAX_GRID = 100_000  # combinations a grid may have


@dataclass(frozen=True)
class Dimension:
    """One searched spec value: a float or int range, or a list of choices."""

    path: str
    kind: Literal["float", "int", "choice"]
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] | None = None

    def suggest(self, trial) -> Any:
        """The trial's value for this dimension (Optuna's suggest_*, named by the path)."""
        if self.kind == "float":
            return trial.suggest_float(self.path, self.low, self.top(), log=self.log,
                                       step=self.step)
        if self.kind == "int":
            return trial.suggest_int(self.path, self.low, self.top(), step=self.step or 1,
                                     log=self.log)
        return trial.suggest_categorical(self.path, list(self.choices or ()))

    def grid_values(self) -> list[Any]:
        """Every value the dimension takes, for the grid sampler (a float needs a step)."""
        if self.kind == "choice":
            return list(self.choices or ())
        if self.kind == "float" and self.step is None:
            raise ValueError(f"'{self.path}' is a continuous float range: give it a step "
                             "to search it on a grid")
        return [self.value_at(k) for k in range(self.steps() + 1)]

    def top(self) -> float | int:
        """The largest value the range reaches: high, or with a step the last low + k * step
        (what Optuna would cut the range to, with a warning per trial)."""
        if self.step is None or (self.kind == "int" and self.step == 1):
            return self.high
        return self.value_at(self.steps())

    def steps(self) -> int:
        """How many steps fit between low and high (a float or int with a step)."""
        if self.kind == "int":
            return (int(self.high) - int(self.low)) // int(self.step or 1)
        return int(math.floor((self.high - self.low) / (self.step or 1) + 1e-9))

    def count(self) -> int | None:
        """How many values the dimension takes (None: a continuous float range)."""
        if self.kind == "choice":
            return len(self.choices or ())
        return None if self.kind == "float" and self.step is None else self.steps() + 1

    def value_at(self, k: int) -> float | int:
        """The k-th value of a discrete range: low + k * step."""
        if self.kind == "int":
            return int(self.low) + k * int(self.step or 1)
        return _clean(self.low + k * self.step)


@dataclass(frozen=True)
class SearchPlan:
    """What a search optimizes, for how long, how, and over which dimensions."""

    metric: str
    direction: Literal["minimize", "maximize"]
    trials: int | None
    timeout: float | None
    sampler: str
    seed: int
    pruner: str
    dimensions: tuple[Dimension, ...]


def dimension(path: str, entry: FloatSpace | IntSpace | ChoiceSpace) -> Dimension:
    """The dimension a `space:` entry describes."""
    if isinstance(entry, ChoiceSpace):
        return Dimension(path, "choice", choices=tuple(entry.choice))
    kind = "float" if isinstance(entry, FloatSpace) else "int"
    low, high = entry.bounds
    if kind == "float":
        low, high = float(low), float(high)
    return Dimension(path, kind, low, high, entry.log, entry.step)


def search_plan(checked) -> SearchPlan:
    """The plan of a checked spec's `search:` section (SpecError DLS701 without one, and
    the located DLS7xx errors of a malformed range). The paths and values are checked by
    `dlspec.search.check.search_diagnostics` (what `dlspec validate` runs)."""
    from dlspec.search.check import range_diagnostics

    config: SearchConfig | None = checked.spec.search
    if config is None:
        raise SpecError(Diagnostic(
            "DLS701", f"{checked.loaded.path} has no `search:` section", hint=(
                "add one, e.g. search: {metric: val_accuracy, trials: 20, space: "
                "{optimizer.lr: {float: [1.0e-4, 1.0e-1], log: true}}}")))
    problems = range_diagnostics(checked)
    if problems:
        raise SpecError(problems)
    dimensions = tuple(dimension(path, entry) for path, entry in config.space.items())
    metric, direction = objective(checked)
    trials = config.trials
    if trials is None and config.sampler == "grid":
        trials = grid_size(dimensions)
    elif trials is None and config.timeout is None:
        trials = DEFAULT_TRIALS
    seed = config.seed if config.seed is not None else checked.spec.train.seed
    return SearchPlan(metric, direction, trials, config.timeout, config.sampler, seed,
                      config.pruner, dimensions)


def objective(checked) -> tuple[str, Literal["minimize", "maximize"]]:
    """The metric a search optimizes and its direction: given, else early stopping's
    monitor and mode, else val_loss (train_loss without a val split), minimized."""
    from dlspec.passes.check_monitor import has_val

    spec = checked.spec
    config = spec.search
    stopping = spec.regularization.early_stopping if spec.regularization else None
    metric = config.metric if config and config.metric else (
        stopping.monitor if stopping is not None
        else "val_loss" if has_val(checked) else "train_loss")
    if config is not None and config.direction is not None:
        return metric, config.direction
    mode = stopping.mode if stopping is not None and stopping.monitor == metric \
        else default_mode(metric)
    return metric, "maximize" if mode == "max" else "minimize"


def grid_size(dimensions: tuple[Dimension, ...]) -> int:
    """How many combinations the grid has (0 with a continuous dimension)."""
    size = 1
    for dim in dimensions:
        size *= dim.count() or 0
    return size


def grid_space(plan: SearchPlan) -> dict[str, list[Any]]:
    """The grid sampler's search space: every value of every dimension, by path."""
    return {dim.path: dim.grid_values() for dim in plan.dimensions}


def grid_points(plan: SearchPlan) -> list[dict[str, Any]]:
    """Every combination of the grid, in order."""
    space = grid_space(plan)
    return [dict(zip(space, values, strict=True)) for values in product(*space.values())]


def trial_overrides(params: Mapping[str, Any]) -> list[str]:
    """`--set` overrides giving each path its value (["optimizer.lr=0.01", ...]), written so
    that the spec loader reads back the same value and type."""
    return [f"{path}={format_value(value)}" for path, value in params.items()]


def format_value(value: Any) -> str:
    """A scalar as YAML 1.2 text that reads back as the same value and type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        value = float(value)
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(map(_quoted_char, value)) + '"'
    raise TypeError(f"a searched value is a number, a string, a boolean or null, not "
                    f"{type(value).__name__}")


def _quoted_char(char: str) -> str:
    """One character inside a YAML double-quoted scalar: printable ones as they are, the
    rest (control characters, line separators, a BOM) escaped."""
    code = ord(char)
    if char in '"\\':
        return "\\" + char
    if 0x20 <= code <= 0x7E or (code >= 0xA0 and code not in (0x2028, 0x2029, 0xFEFF)
                                and not 0xD800 <= code <= 0xDFFF and code not in (0xFFFE, 0xFFFF)):
        return char
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF \
        else f"\\U{code:08x}"


def _clean(value: float) -> float:
    """A grid value without the float noise of low + k * step (0.30000000000000004)."""
    return float(f"{value:.12g}")

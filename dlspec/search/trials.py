"""One trial of a search: a normal training run of the spec with the trial's values.

The run goes to `<study>/trials/<trial number>/` (spec.yaml, run.json with the overrides,
metrics.csv, checkpoints: everything `dlspec train` writes). After each epoch the monitored
metric is reported to the study's pruner; a pruned run stops there with its files complete.
A trial that cannot train (a value combination the checker refuses, a non-finite loss, any
other error) is recorded as failed with its message (user attr `fail_reason`) and the search
goes on. Each trial folder also gets `trial.json`: its number, state, value and parameters.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from dlspec.errors import DlspecError
from dlspec.files import atomic_write_text

FAIL_REASON = "fail_reason"  # user attr: why a trial failed
INTERRUPTED = "interrupted"  # user attr: the trial was stopped by Ctrl-C (it is run again)


class TrialFailed(Exception):
    """A trial that could not train; the message says why (Optuna records it as FAIL)."""


@dataclass
class TrialRunner:
    """The objective of a study: trains the spec at `spec` with `overrides` and the trial's
    values into `trials_dir/<number>`, and returns the best value of `metric` over its
    epochs. `on_start` is called once the trial exists (the worker lets go of its lock)."""

    spec: Path
    overrides: Sequence[str]
    plan: Any  # SearchPlan
    trials_dir: Path
    on_start: Callable[[], None] | None = None
    quiet: bool = True
    started: list[int] = field(default_factory=list)

    def __call__(self, trial: optuna.Trial) -> float:
        if self.on_start is not None:
            self.on_start()
        self.started.append(trial.number)
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        begun = time.monotonic()
        params: dict[str, Any] = {}
        try:
            params = {d.path: d.suggest(trial) for d in self.plan.dimensions}
            value = self._train(trial, params)
        except optuna.TrialPruned as pruned:
            self._finish(trial, "PRUNED", None, str(pruned), params, begun)
            raise
        except KeyboardInterrupt:
            trial.set_user_attr(INTERRUPTED, True)
            self._finish(trial, "INTERRUPTED", None, "interrupted", params, begun)
            raise
        except TrialFailed as failed:
            self._fail(trial, str(failed), params, begun)
            raise
        except DlspecError as error:
            self._fail(trial, "; ".join(d.format() for d in error.diagnostics), params, begun)
            raise TrialFailed(str(error)) from None
        except Exception as error:  # the search goes on whatever one trial does
            self._fail(trial, f"{type(error).__name__}: {error}", params, begun)
            raise TrialFailed(str(error)) from None
        self._finish(trial, "COMPLETE", value, "", params, begun)
        return value

    def _train(self, trial: optuna.Trial, params: Mapping[str, Any]) -> float:
        from dlspec.api import train_spec
        from dlspec.search.space import trial_overrides

        overrides = [*self.overrides, *trial_overrides(params)]
        trial.set_user_attr("overrides", overrides)
        trial.set_user_attr("run_dir", str(self.run_dir(trial.number)))
        result = train_spec(self.spec, overrides, out_root=self.trials_dir,
                            run_name=str(trial.number), quiet=self.quiet,
                            on_epoch=EpochReporter(trial, self.plan.metric))
        value = best_value(result.history, self.plan.metric, self.plan.direction)
        if value is None:
            raise TrialFailed(f"{self.plan.metric} was never finite (NaN or inf in every "
                              f"epoch of {len(result.history)})")
        return value

    def run_dir(self, number: int) -> Path:
        return self.trials_dir / str(number)

    def _fail(self, trial: optuna.Trial, reason: str, params: Mapping[str, Any],
              begun: float) -> None:
        trial.set_user_attr(FAIL_REASON, reason[:2000])
        self._finish(trial, "FAIL", None, reason, params, begun)

    def _finish(self, trial: optuna.Trial, state: str, value: float | None, message: str,
                params: Mapping[str, Any], begun: float) -> None:
        folder = self.run_dir(trial.number)
        if folder.is_dir():  # the run started (a refused combination makes no folder)
            record = {"number": trial.number, "state": state, "value": value,
                      "params": dict(params), "message": message,
                      "seconds": round(time.monotonic() - begun, 3)}
            atomic_write_text(folder / "trial.json", json.dumps(record, indent=2) + "\n")


class EpochReporter:
    """`on_epoch` of a trial's run: reports the metric to the pruner, prunes the run."""

    def __init__(self, trial: optuna.Trial, metric: str):
        self.trial, self.metric = trial, metric

    def __call__(self, epoch: int, record: Mapping[str, float]) -> None:
        value = record.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        self.trial.report(float(value), epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch}: {self.metric} {value:.4g}")


def best_value(history: Sequence[Mapping[str, Any]], metric: str, direction: str
               ) -> float | None:
    """The best finite value of `metric` over the epochs of a run (None: none finite)."""
    values = [float(r[metric]) for r in history
              if isinstance(r.get(metric), (int, float)) and math.isfinite(r[metric])]
    if not values:
        return None
    return max(values) if direction == "maximize" else min(values)

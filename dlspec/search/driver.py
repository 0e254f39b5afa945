"""`dlspec search`: the study of a spec's `search:` section, its trials and its report.

    search(spec, overrides, ...) -> SearchOutcome

checks the spec, opens (or creates, or resumes) the study, runs the trials in this process or
in `workers` processes, then reports: a table of the trials, best.yaml, parameter importances
and plots. `worker_index` set: this process is one of those workers (trials only).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna

from dlspec.errors import Diagnostic, SearchError
from dlspec.search.study import (
    StudyFolder,
    StudyIdentity,
    claim_folder,
    make_pruner,
    make_sampler,
    open_storage,
    open_study,
    shown_url,
    storage_url,
    study_name_problem,
    study_uid,
    worker_seed,
)

DEFAULT_HEARTBEAT = 30.0  # seconds; a dead worker's trial comes back after twice that


@dataclass(frozen=True)
class SearchRequest:
    """What `dlspec search` was asked."""

    spec: Path
    overrides: tuple[str, ...] = ()
    study: str | None = None  # default: the spec's name
    out: Path = Path("studies")
    storage: str | None = None  # default: sqlite in the study folder
    trials: int | None = None  # default: the spec's search.trials
    workers: int = 1
    worker_index: int | None = None  # set in a worker process
    heartbeat: float = DEFAULT_HEARTBEAT
    quiet: bool = False
    plots: bool = True


@dataclass
class SearchOutcome:
    """A search's study and what it wrote."""

    study: optuna.Study
    folder: StudyFolder
    metric: str
    direction: str
    budget: int | None
    ran: int  # trials run by this invocation (this process, or its workers)
    trials: list[optuna.trial.FrozenTrial] = field(default_factory=list)  # counted ones
    best: optuna.trial.FrozenTrial | None = None
    best_yaml: Path | None = None
    importances: dict[str, float] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def resume_command(request: SearchRequest) -> str:
    """The command that resumes the study of `request` (shell-quoted)."""
    import shlex

    words = ["dlspec", "search", str(request.spec)]
    for override in request.overrides:
        words += ["--set", override]
    for option, value in (("--study", request.study), ("--storage", request.storage),
                          ("--out", None if Path(request.out) == Path("studies")
                           else str(request.out))):
        if value:
            words += [option, value]
    return shlex.join(words)


def plan_search(request: SearchRequest) -> tuple[Any, Any, int | None, list[str]]:
    """(checked spec, plan, trial budget, notes), torch-free: SpecError on the spec or its
    search section."""
    from dlspec.api import check
    from dlspec.search.space import grid_size, search_plan

    checked = check(request.spec, request.overrides, search=True)
    plan = search_plan(checked)
    notes = []
    budget = request.trials if request.trials is not None else plan.trials
    if plan.sampler == "grid":
        size = grid_size(plan.dimensions)
        if budget is None or budget > size:
            if budget is not None:
                notes.append(f"the grid has {size} points: {size} trials, not {budget}")
            budget = size
    return checked, plan, budget, notes


def search(request: SearchRequest,
           said: Callable[[str], None] = print) -> SearchOutcome:
    """Run the search of `request` (see the module's docstring)."""
    _quiet_optuna()
    if request.study is not None and (problem := study_name_problem(request.study)):
        raise SearchError(Diagnostic("DLS710", problem,
                                     hint="give --study a name such as mlp-lr"))
    checked, plan, budget, notes = plan_search(request)
    name = request.study if request.study is not None else checked.spec.name
    folder = StudyFolder(Path(request.out) / name)
    url = storage_url(request.storage, folder)
    storage = open_storage(url, request.heartbeat)
    identity = StudyIdentity.of(checked, request.overrides, plan)
    epochs = checked.spec.train.epochs
    probe = open_study(name, storage, identity, optuna.samplers.RandomSampler(),
                       optuna.pruners.NopPruner())
    started_after = len(probe.get_trials(deepcopy=False))
    index = request.worker_index or 0
    workers = 1 if request.worker_index is not None else max(request.workers, 1)
    # a grid's order is shuffled by its seed: every worker shares it (grid point = trial number)
    seed = plan.seed if plan.sampler == "grid" else worker_seed(plan.seed, index, started_after)
    # a worker process samples while others do (on this machine or others): constant liar
    sampler = make_sampler(plan, seed, parallel=request.worker_index is not None)
    study = open_study(name, storage, identity, sampler, make_pruner(plan, epochs))
    claim_folder(folder, name, study_uid(study))
    if request.worker_index is None:
        for note in notes:
            said(note)
        said(f"study '{name}' in {shown_url(url)}: {_budget_text(budget, plan.timeout)}, "
             f"{plan.sampler} sampler, {plan.pruner} pruner, {plan.direction} {plan.metric}"
             + (f", {workers} workers" if workers > 1 else "")
             + (f" (resumed: {started_after} trials so far)" if started_after else ""))
    if workers > 1:
        ran = _run_workers(request, name, url, budget, workers, study, said)
    else:
        ran = _run_here(request, study, plan, folder, budget, storage, said)
    outcome = SearchOutcome(study, folder, plan.metric, plan.direction, budget, ran,
                            notes=notes)
    if request.worker_index is None:
        _report(outcome, request, said)
    return outcome


def _budget_text(budget: int | None, timeout: float | None) -> str:
    parts = ([f"{budget} trials"] if budget is not None else []) + \
        ([f"at most {timeout:g} s"] if timeout is not None else [])
    return " or ".join(parts)


def _run_here(request: SearchRequest, study: optuna.Study, plan: Any, folder: StudyFolder,
              budget: int | None, storage: Any, said: Callable[[str], None]) -> int:
    from dlspec.search.report import trial_line
    from dlspec.search.study import heartbeat_enabled
    from dlspec.search.trials import TrialRunner
    from dlspec.search.worker import work

    runner = TrialRunner(request.spec, request.overrides, plan, folder.trials)
    deadline = None if plan.timeout is None else time.monotonic() + plan.timeout
    prefix = "" if request.worker_index is None else f"[worker {request.worker_index}] "
    return work(study, runner, budget, lock_path=folder.lock, deadline=deadline,
                heartbeat=request.heartbeat if heartbeat_enabled(storage) else None,
                said=lambda trial: said(prefix + trial_line(trial, plan.metric)))


def _run_workers(request: SearchRequest, name: str, url: str, budget: int | None,
                 workers: int, study: optuna.Study, said: Callable[[str], None]) -> int:
    from dlspec.search.worker import spawn_workers, wait_for

    before = len(study.get_trials(deepcopy=False))
    arguments = [str(request.spec), "--study", name, "--storage", url, "--out",
                 str(request.out), "--heartbeat", f"{request.heartbeat:g}",
                 *(["--trials", str(budget)] if budget is not None else []),
                 *(item for override in request.overrides for item in ("--set", override))]
    codes = wait_for(spawn_workers(workers, arguments))
    failed = [(i, c) for i, c in enumerate(codes) if c != 0]
    ran = len(study.get_trials(deepcopy=False)) - before
    for index, code in failed:
        said(f"worker {index} ended with exit code {code}; the other workers went on")
    if failed and len(failed) == len(codes):
        raise SearchError(Diagnostic(
            "DLS710", f"every worker failed (exit codes {[c for _, c in failed]}); "
                      f"{ran} trials ran",
            hint=f"`{resume_command(replace(request, study=name))}` resumes the study"))
    return ran


def _report(outcome: SearchOutcome, request: SearchRequest,
            said: Callable[[str], None]) -> None:
    from rich.console import Console

    from dlspec.search.report import (
        best_trial,
        importances,
        no_best,
        summary_lines,
        trial_table,
        write_best,
        write_plots,
    )
    from dlspec.search.worker import counted_trials

    study, folder = outcome.study, outcome.folder
    trials = counted_trials(study)
    outcome.trials = trials
    outcome.best = best_trial(trials, outcome.direction)
    if not request.quiet:
        Console(highlight=False, soft_wrap=True).print(trial_table(
            trials, outcome.metric, outcome.best.number if outcome.best else None))
    if outcome.best is None:
        raise no_best(study.study_name, trials)
    outcome.best_yaml = write_best(folder.best_yaml, request.spec, request.overrides,
                                   outcome.best, outcome.metric, study.study_name)
    outcome.importances = importances(study, [t for t in trials if t.state.is_finished()])
    outcome.plots = write_plots(study, folder.plots, trials) if request.plots else []
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    for line in summary_lines(outcome.best, outcome.importances, outcome.metric, counts):
        said(line)
    said(f"wrote {outcome.best_yaml}" + (f" and {len(outcome.plots)} plots in {folder.plots}"
                                         if outcome.plots else ""))


def _quiet_optuna() -> None:
    """Optuna's own log lines (and tracebacks of failed trials) stay out of the console:
    dlspec prints one line per trial, with the reason of a failure."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)

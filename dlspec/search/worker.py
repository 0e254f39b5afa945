"""The trials of one worker, and the worker processes of `--workers W`.

Every worker, in one process or in several on several machines, runs trials of the same
study until it holds the requested number: trials COMPLETE, PRUNED or FAIL count, but not a
trial that was run again (its worker died or was interrupted: Optuna's RetryHeartbeatStaleTrialCallback
enqueued it once more, with the same parameters). A worker starts a trial only while the
finished and running trials leave room, checked and claimed under a file lock that the
workers of one machine share, so that none starts a trial too many. While the last trials run
elsewhere, a worker with a heartbeat-enabled storage waits: should their worker die, the
stale trial is failed after the grace period and run again here, and the study completes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import TrialState

from dlspec.search.study import retry_callback
from dlspec.search.trials import TrialFailed, TrialRunner

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


@dataclass(frozen=True)
class Tally:
    """The trials of a study, as the trial budget counts them."""

    done: int  # finished, not run again
    running: int
    waiting: int  # enqueued (a retry), not yet started


def tally(study: optuna.Study) -> Tally:
    trials = study.get_trials(deepcopy=False)
    retried = {number for t in trials for number in t.system_attrs.get("retry_history", ())}
    return Tally(
        done=sum(t.state in FINISHED and t.number not in retried for t in trials),
        running=sum(t.state == TrialState.RUNNING for t in trials),
        waiting=sum(t.state == TrialState.WAITING for t in trials))


def counted_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The trials of the study, without those that were run again under another number."""
    trials = study.get_trials(deepcopy=False)
    retried = {number for t in trials for number in t.system_attrs.get("retry_history", ())}
    return [t for t in trials if t.number not in retried]


class TrialLock:
    """An exclusive lock on a file, shared by the workers of one machine (no-op without
    fcntl); `release` may be called any number of times."""

    def __init__(self, path: Path):
        self.path, self.handle = Path(path), None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+b")  # noqa: SIM115 (held across calls)
        with contextlib.suppress(ImportError):
            import fcntl

            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX)

    def release(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            handle.close()  # closing the file lets go of the lock


@contextlib.contextmanager
def held(lock: TrialLock) -> Iterator[TrialLock]:
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


def work(study: optuna.Study, runner: TrialRunner, budget: int | None, *, lock_path: Path,
         heartbeat: float | None, deadline: float | None = None,
         said: Callable[[optuna.trial.FrozenTrial], None] | None = None) -> int:
    """Run trials until the study holds `budget` counted trials (None: until `deadline`, a
    time.monotonic() value), or the deadline passes; `said` gets each trial run here once
    it has finished. Returns how many trials ran here."""
    ran = 0
    lock = TrialLock(lock_path)
    runner.on_start = lock.release
    while True:
        with held(lock):
            if heartbeat:
                with _quiet_warnings():
                    optuna.storages.fail_stale_trials(study)
            count = tally(study)
            over = deadline is not None and time.monotonic() >= deadline
            if over or (budget is not None and count.done >= budget):
                return ran
            if budget is not None and count.done + count.running >= budget:
                if not heartbeat:
                    return ran
                wait = True  # the last trials run elsewhere: one may come back
            else:
                wait = False
                try:
                    study.optimize(runner, n_trials=1, catch=(TrialFailed,),
                                   gc_after_trial=False)
                except KeyboardInterrupt:
                    _run_again(study, runner.started[-1:])
                    raise
                ran += 1
        if wait:
            time.sleep(min(max(heartbeat or 1.0, 0.5), 5.0))
        elif said is not None and runner.started:
            said(study.get_trials(deepcopy=False)[runner.started[-1]])


def _run_again(study: optuna.Study, numbers: Sequence[int]) -> None:
    """Enqueue once more the trials stopped by Ctrl-C (as for a dead worker's trial)."""
    trials = study.get_trials(deepcopy=False)
    for number in numbers:
        trial = trials[number]
        if trial.state == TrialState.FAIL:
            retry_callback()(study, trial)


@contextlib.contextmanager
def _quiet_warnings() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def spawn_workers(count: int, arguments: Sequence[str]) -> list[subprocess.Popen]:
    """`count` processes of `python -m dlspec search ARGUMENTS --worker-index i`."""
    env = dict(os.environ)
    return [subprocess.Popen([sys.executable, "-m", "dlspec", "search", *arguments,
                              "--worker-index", str(index)], env=env)
            for index in range(count)]


def wait_for(workers: Sequence[subprocess.Popen]) -> list[int]:
    """Wait for every worker; their exit codes. Ctrl-C reaches them too (one process
    group): they stop their trials, which the next `dlspec search` runs again."""
    codes, interrupted = [], False
    for process in workers:
        while True:
            try:
                codes.append(process.wait())
                break
            except KeyboardInterrupt:  # let the workers finish their trials' files first
                interrupted = True
    if interrupted:
        raise KeyboardInterrupt
    return codes

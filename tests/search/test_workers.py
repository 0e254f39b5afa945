"""`dlspec search --workers 2`: worker processes on one SQLite study. No trial is lost or run
twice, and a worker killed in the middle of a trial does not stop the study: its trial is
failed by the heartbeat and run again by the other worker. (One test: each worker process
imports torch.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import sqlalchemy.exc
from optuna.trial import TrialState
from search_fixtures import write_spec

from dlspec.search.worker import counted_trials

ROOT = Path(__file__).resolve().parents[2]
GRID_2X3 = """\
  sampler: grid
  space:
    optimizer.lr: {choice: [1.0e-3, 3.0e-2]}
    params.hidden: {choice: [4, 16, 32]}
"""

pytestmark = pytest.mark.slow  # worker processes each import torch


def start(spec: Path, out: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "dlspec", "search", str(spec), "--out", str(out), "--workers",
         "2", "--quiet", "--no-plots", *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def load(out: Path) -> optuna.Study:
    return optuna.load_study(study_name="tiny",
                             storage=f"sqlite:///{out / 'tiny' / 'study.db'}")


def grid_points(trials) -> list[tuple[float, int]]:
    return sorted((t.params["optimizer.lr"], t.params["params.hidden"]) for t in trials)


EVERY_POINT = sorted((lr, h) for lr in (1e-3, 3e-2) for h in (4, 16, 32))


def test_two_workers_lose_no_trial_and_run_none_twice_even_when_one_is_killed(tmp_path):
    spec = write_spec(tmp_path, GRID_2X3, epochs=20)
    search = start(spec, tmp_path / "studies", "--heartbeat", "1")
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and time.monotonic() < deadline and search.poll() is None:
        time.sleep(0.5)
        if not (tmp_path / "studies/tiny/study.db").is_file():
            continue
        try:
            trials = load(tmp_path / "studies").get_trials()
        except (KeyError, sqlalchemy.exc.SQLAlchemyError):  # the study is being created
            continue
        running = [t for t in trials if t.state == TrialState.RUNNING and "pid" in t.user_attrs
                   and (tmp_path / f"studies/tiny/trials/{t.number}/metrics.csv").is_file()]
        if running:  # mid-trial: its run has started, and trains for 20 epochs
            killed = running[0]
            os.kill(killed.user_attrs["pid"], signal.SIGKILL)
    assert killed is not None, "no trial started"
    output, _ = search.communicate(timeout=600)
    assert search.returncode == 0, output
    study = load(tmp_path / "studies")
    every = study.get_trials()
    assert study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING)) == []
    assert every[killed.number].state == TrialState.FAIL
    again = [t for t in every if t.system_attrs.get("retry_history") == [killed.number]]
    assert len(again) == 1 and again[0].state == TrialState.COMPLETE
    assert again[0].params == every[killed.number].params == killed.params
    counted = counted_trials(study)
    assert len(counted) == 6 and all(t.state == TrialState.COMPLETE for t in counted)
    assert grid_points(counted) == EVERY_POINT  # none lost, none twice
    for trial in counted:  # each in its run folder, by the worker that ran it
        run_dir = tmp_path / "studies/tiny/trials" / str(trial.number)
        assert (run_dir / "checkpoints/best.safetensors").is_file()
    assert len({t.user_attrs["pid"] for t in every}) == 2  # the killed worker and the other
    assert "6 complete" in output and f"trial {killed.number}  FAIL" not in output
    assert "ended with exit code -9; the other workers went on" in output

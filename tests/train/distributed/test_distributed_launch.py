"""`dlspec train --nproc N`: arguments checked before torch is imported, torchrun's elastic
launcher for the processes, and a rank that dies: the job ends at once, naming it, with its
last checkpoint intact and resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_run import fresh_env, run_fresh
from safetensors.torch import save_file

from dlspec.train.distributed.launch import (
    Failure,
    failure_error,
    first_cause,
    interrupted_line,
)

ROOT = Path(__file__).resolve().parents[3]
SPEC = ROOT / "specs" / "mlp-digits.yaml"
GAN = ROOT / "specs" / "dcgan-digits.yaml"


def dlspec_early(tmp_path: Path, *args: str) -> tuple[int, str]:
    return run_fresh(tmp_path, *args)


def test_a_spec_error_stops_nproc_before_torch_and_before_any_process(tmp_path):
    typo = tmp_path / "typo.yaml"
    typo.write_text(SPEC.read_text().replace("out_features:", "out_feature:", 1))
    code, err = dlspec_early(tmp_path, "train", str(typo), "--nproc", "2")
    assert code == 1 and "error DLS101: in layer 'fc1' (linear): unknown key" in err
    assert err.splitlines()[-1] == "torch not imported"
    code, err = dlspec_early(tmp_path, "train", str(SPEC), "--nproc", "2",
                             "--overfit-batch", "8")
    assert code == 2 and "--overfit-batch trains in one process" in err
    assert err.splitlines()[-1] == "torch not imported"
    assert not (tmp_path / "runs").exists()
    code, err = dlspec_early(tmp_path, "train", "--resume", str(tmp_path / "nope"),
                             "--nproc", "2")  # once, not once per rank and a rank failure
    assert code == 1 and err.count("error DLS403") == 1 and "is not a run folder" in err
    assert err.splitlines()[-1] == "torch not imported"


def test_a_gan_is_refused_at_its_objective_before_torch_and_before_any_process(tmp_path):
    line = next(number for number, text in enumerate(GAN.read_text().splitlines(), 1)
                if text.startswith("objective:"))
    code, err = dlspec_early(tmp_path, "train", str(GAN), "--nproc", "2")
    assert code == 1 and err.count("error DLS403") == 1, err
    assert (f"{GAN}:{line}:1: error DLS403: the gan objective alternates the "
            "updates of its models in each step, which several processes cannot train "
            "yet\n  help: train it in one process: leave out --nproc") in err
    assert err.splitlines()[-1] == "torch not imported"
    assert not (tmp_path / "runs").exists()
    run = tmp_path / "gan-run"  # a GAN's run folder, resumed on several processes
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "resume.safetensors").write_bytes(b"")
    (run / "spec.yaml").write_text(GAN.read_text())
    (run / "run.json").write_text(json.dumps({"spec": str(GAN), "overrides": []}))
    code, err = dlspec_early(tmp_path, "train", "--resume", str(run), "--nproc", "2")
    assert code == 1 and err.count("error DLS403") == 1, err
    assert f"{run / 'spec.yaml'}:{line}:1: error DLS403: the gan objective" in err
    assert err.splitlines()[-1] == "torch not imported"


def test_a_run_with_nothing_to_continue_is_refused_once_before_torch(tmp_path):
    run = tmp_path / "done"  # a finished run: result.json next to its resume checkpoint
    (run / "checkpoints").mkdir(parents=True)
    (run / "spec.yaml").write_text(SPEC.read_text())
    (run / "run.json").write_text(json.dumps({"spec": str(SPEC), "overrides": []}))
    code, err = dlspec_early(tmp_path, "train", "--resume", str(run), "--nproc", "2")
    assert code == 1 and err.count("error DLS403") == 1, err  # not once per rank
    assert f"error DLS403: {run} has no resume checkpoint" in err
    assert err.splitlines()[-1] == "torch not imported"
    (run / "checkpoints" / "resume.safetensors").write_bytes(b"")
    (run / "result.json").write_text(json.dumps({"epochs_run": 30}))
    code, err = dlspec_early(tmp_path, "train", "--resume", str(run), "--nproc", "2")
    assert code == 1 and err.count("error DLS403") == 1, err
    assert f"error DLS403: the run in {run} already finished (epoch 30)" in err
    assert "--nproc 2" not in err  # no resume command that fails the same way
    assert err.splitlines()[-1] == "torch not imported"
    code, err = dlspec_early(tmp_path, "train", "--resume", str(run), "--nproc", "2",
                             "--set", "params.dropout=0.2")
    assert code == 1 and err.count("error DLS403") == 1, err
    assert "--resume was given the overrides ['params.dropout=0.2']" in err
    assert err.splitlines()[-1] == "torch not imported"


def test_an_interrupted_job_offers_resume_only_from_a_kept_checkpoint(tmp_path):
    run = tmp_path / "run"
    stopped = "interrupted: the 2 processes were stopped (SIGINT)"
    start_again = f"{stopped} before the run kept a checkpoint; start it again"
    assert interrupted_line(2, "SIGINT", run, " --nproc 2") == start_again  # no folder yet
    (run / "checkpoints").mkdir(parents=True)
    assert interrupted_line(2, "SIGINT", run, " --nproc 2") == start_again
    import torch

    save_file({"x": torch.zeros(1)}, str(run / "checkpoints" / "resume.safetensors"),
              metadata={"dlspec_resume": json.dumps({"step": 46})})
    assert interrupted_line(2, "SIGINT", run, " --nproc 2") == (
        f"{stopped}; continue with: dlspec train --resume {run} --nproc 2")
    (run / "result.json").write_text("{}")  # finished as the signal came: nothing to resume
    assert interrupted_line(2, "SIGINT", run, " --nproc 2") == (
        f"{stopped} after the run finished; its results are in {run}")


def test_the_cause_is_the_killed_rank_not_those_the_agent_stopped():
    failures = [Failure(0, 10, -signal.SIGTERM), Failure(3, 13, 1),
                Failure(2, 12, -signal.SIGKILL)]
    assert first_cause(failures) == failures[2]
    assert first_cause(failures[:2]) == failures[1]
    assert Failure(1, 11, 2).describe() == "rank 1 (pid 11) exited with code 2"


def test_the_message_names_the_rank_and_how_to_resume(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    error = failure_error([Failure(1, 77, -signal.SIGKILL)], run, " --nproc 2")
    (diagnostic,) = error.diagnostics
    assert (diagnostic.code, diagnostic.message) == (
        "DLS403", "rank 1 (pid 77) was killed by SIGKILL; the run's other processes were "
                  "stopped")
    assert diagnostic.hint == f"{run} has no resume checkpoint yet; start the run again"
    (diagnostic,) = failure_error([Failure(0, 7, 1)], run, " --nproc 2").diagnostics
    assert diagnostic.hint == "the error above says why; no checkpoint was kept"
    import torch

    save_file({"x": torch.zeros(1)}, str(run / "checkpoints" / "resume.safetensors"),
              metadata={"dlspec_resume": json.dumps({"step": 46})})
    (diagnostic,) = failure_error([Failure(1, 77, -9)], run, " --nproc 2").diagnostics
    assert diagnostic.hint == (f"the last complete checkpoint of {run} is at step 46; "
                               f"continue with: dlspec train --resume {run} --nproc 2")


def rank_pids(parent: int, rank: int) -> list[int]:
    """The processes below `parent` whose environment says RANK=<rank>."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ and int(stat[1]) == parent:
            found.append(int(entry.name))
    return found


@pytest.mark.slow  # two fresh interpreters with torch: about 15 s of CPU
def test_a_killed_rank_ends_the_job_at_once_and_the_run_resumes(tmp_path):
    from dlspec.api import train_spec
    from dlspec.train.run_folder.resume import read_state
    from dlspec.train.run_folder.run_dir import RunFiles

    run = tmp_path / "runs" / "killed"
    job = subprocess.Popen(
        [sys.executable, "-m", "dlspec", "train", str(SPEC), "--nproc", "2", "--name",
         "killed", "--epochs", "3", "--set", "train.checkpoint_every_steps=5", "--quiet"],
        cwd=tmp_path, env=fresh_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (run / "checkpoints" / "resume.safetensors").exists():
            assert job.poll() is None and time.monotonic() < deadline, job.communicate()
            time.sleep(0.05)
        (victim,) = rank_pids(job.pid, 1)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        out, err = job.communicate(timeout=60)
        ended = time.monotonic() - killed
    finally:
        job.kill()
    assert job.returncode == 1 and ended < 15, (ended, err)
    assert f"error DLS403: rank 1 (pid {victim}) was killed by SIGKILL" in err
    assert "continue with: dlspec train --resume runs/killed --nproc 2" in err
    assert "Traceback" not in err and out == ""
    saved = read_state(RunFiles(run))  # complete: every checksum verified
    assert saved.data["step"] % 5 == 0 and not (run / "result.json").exists()
    result = train_spec(None, resume=run, quiet=True)  # on one process, to its end
    assert result.epochs_run == 3 and (run / "result.json").exists()


def test_the_elastic_agent_prints_no_warning_of_its_own():
    import logging

    from torch.distributed.elastic.agent.server import api

    from dlspec.train.distributed.launch import quiet_elastic_loggers

    quiet_elastic_loggers()  # the agent's modules set WARNING on their own loggers
    assert not api.logger.isEnabledFor(logging.WARNING)

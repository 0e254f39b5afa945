"""Running `dlspec` in a subprocess and reading what its run folder holds: shared by the
resume tests (a run killed with SIGKILL must resume bit for bit)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors import safe_open

from dlspec.train.run_folder.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def saved_step(run_dir: Path) -> int:
    state = run_dir / "checkpoints" / "resume.safetensors"
    if not state.exists():
        return 0
    with safe_open(state, framework="pt") as handle:  # replaced atomically: always whole
        return json.loads(handle.metadata()["dlspec_resume"])["step"]


def kill_after(command: list[str], run_dir: Path, step: int) -> int:
    """Start `python -m dlspec <command>`, SIGKILL it once it checkpointed `step` or later;
    the step of the checkpoint it left."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "dlspec", *command, "--quiet"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while saved_step(run_dir) < step:
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "the training process made no checkpoint"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL  # killed, not finished
    return saved_step(run_dir)


def weights(run_dir: Path, name: str) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "checkpoints" / f"{name}.safetensors").state_dict


def rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


"""Ctrl-C during training: the run stops at the next step with a resume checkpoint there,
says where it is and how to resume, exits with 130, and resumes to the very weights of an
uninterrupted run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from train_data_fixtures import digits_mlp_spec

from dlspec.api import train_spec
from dlspec.train.run_folder.checkpoint import load_checkpoint
from dlspec.train.run_folder.run_dir import RunFiles

SPEC = digits_mlp_spec("tiny-interrupt", """\
optimizer: {op: adamw, lr: 3e-3}
data: {dataset: digits, split: [0.8, 0.1, 0.1], batch_size: 8}
train: {epochs: 8, seed: 3}
""")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def ctrl_c_not_ignored():
    """Ctrl-C as at a terminal: a test run started in the background of a shell without job
    control inherits SIGINT ignored (and dlspec, like any program, then keeps ignoring it)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def finished_epochs(run_dir: Path) -> int:
    metrics = run_dir / "metrics.csv"
    return max(len(metrics.read_text().splitlines()) - 1, 0) if metrics.exists() else 0


def weights(run_dir: Path, name: str) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "checkpoints" / f"{name}.safetensors").state_dict


def test_ctrl_c_stops_with_a_checkpoint_and_the_resume_command(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    run_dir = tmp_path / "stopped"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "dlspec", "train", str(spec), "--out", str(tmp_path), "--name",
         "stopped", "--quiet"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while finished_epochs(run_dir) < 1:  # no checkpoint yet: only the first epoch's end
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "the training process finished no epoch"
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    found = re.search(r"interrupted at epoch (\d)/8, step (\d+) \(saved there\); the run "
                      r"folder is (\S+)\nresume with: dlspec train --resume (\S+)\n", err)
    assert found, err
    from dlspec.train.run_folder.resume import checkpoint_step  # new with this behaviour

    epoch, step = int(found[1]), int(found[2])
    assert found[3] == found[4] == str(run_dir)
    assert 1 <= epoch < 8 and 180 <= step < 8 * 180  # 1437 samples in batches of 8
    assert checkpoint_step(RunFiles(run_dir)) == step
    assert not (run_dir / "result.json").exists()

    resumed = train_spec(None, resume=run_dir, quiet=True)
    reference = train_spec(spec, out_root=tmp_path, run_name="reference", quiet=True)
    assert resumed.epochs_run == 8 and resumed.history[-1] == {
        **reference.history[-1], "seconds": resumed.history[-1]["seconds"]}
    for name in ("last", "best"):
        ours, theirs = weights(run_dir, name), weights(reference.run_dir, name)
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), name


def test_the_first_ctrl_c_asks_to_stop_the_second_stops_at_once():
    from dlspec.train.engine.interrupt import stop_requests

    before = signal.getsignal(signal.SIGINT)
    with stop_requests() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)  # the handler runs between bytecodes of the main thread
        assert stop.requested
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
            raise AssertionError("a second Ctrl-C did not interrupt")
        except KeyboardInterrupt:
            pass
    assert signal.getsignal(signal.SIGINT) is before


def test_the_message_says_what_is_left_of_the_run():
    from dlspec.train.engine.interrupt import RunInterrupted

    run = Path("runs/x")
    assert RunInterrupted(run, 2, 5, 40, 30, False).message() == (
        "interrupted at epoch 2/5, step 40 (the last checkpoint is at step 30); the run "
        "folder is runs/x\nresume with: dlspec train --resume runs/x")
    assert RunInterrupted(run, 1, 5, 3, None, True).message() == (
        "interrupted at epoch 1/5, step 3, before the run's first checkpoint: nothing was "
        "kept and its folder runs/x was removed; start it again")
    assert isinstance(RunInterrupted(run, 1, 5, 3, None, True), KeyboardInterrupt)


def test_under_torchrun_only_rank_0_says_it_stops(monkeypatch, capsys):
    from dlspec.train.engine.interrupt import StopRequest

    for rank, said in (("1", ""), ("0", "stopping after this step")):
        monkeypatch.setenv("RANK", rank)
        before = signal.getsignal(signal.SIGINT)
        StopRequest().ask(signal.SIGINT, None)
        signal.signal(signal.SIGINT, before)
        err = capsys.readouterr().err
        assert (said in err) if said else err == ""

"""Exact resume: a training process killed with SIGKILL at two points and resumed ends with the
very same weights as an uninterrupted run, and it would not without restoring the RNG state."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from run_fixtures import kill_after, rows, same, weights
from safetensors import safe_open
from safetensors.torch import save_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from train_data_fixtures import classification_data, digits_mlp_spec, mlp

import dlspec.train.run_folder.resume as resume_module
from dlspec.api import train_spec
from dlspec.errors import TrainError
from dlspec.train.engine.loop import fit
from dlspec.train.engine.setup import FitOptions
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import EarlyStoppingConfig, RegularizationConfig, TrainConfig

SPEC = digits_mlp_spec("tiny-resume", """\
optimizer: {op: adamw, lr: 3e-3}
schedule: {op: cosine, min_lr: 1e-5}
regularization:
  early_stopping: {monitor: val_loss, patience: 100, restore_best: false}
data: {dataset: digits, split: [0.8, 0.1, 0.1], batch_size: 64}
train: {epochs: 12, seed: 3, checkpoint_every_steps: 10, log_every: 7}
""")
STEPS_PER_EPOCH = 23  # 1437 train samples in batches of 64


def scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of a TensorBoard tag, as TensorBoard shows it (what a crashed run logged
    after its last checkpoint is purged)."""
    events = EventAccumulator(str(run_dir / "tb"))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_a_killed_run_resumes_bit_for_bit(tmp_path, monkeypatch):
    # conftest.py runs this test on one thread, like the subprocesses (OMP_NUM_THREADS=1)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    reference = train_spec(spec, out_root=tmp_path, run_name="reference", quiet=True).run_dir

    run_dir = tmp_path / "killed"
    first = kill_after(["train", str(spec), "--out", str(tmp_path), "--name", "killed"],
                       run_dir, 10)
    second = kill_after(["train", "--resume", str(run_dir)], run_dir, first + 10)
    assert 10 <= first < second < 12 * STEPS_PER_EPOCH
    shutil.copytree(run_dir, tmp_path / "without-rng")

    resumed = train_spec(None, resume=run_dir, quiet=True)
    assert resumed.epochs_run == 12
    for name in ("last", "best"):
        assert same(weights(run_dir, name), weights(reference, name)), name
    assert rows(run_dir) == rows(reference)  # metrics.csv continued, no row twice
    for tag in ("val/loss", "train/loss_step", "grad_norm/fc1"):  # TensorBoard too
        assert scalars(run_dir, tag) == scalars(reference, tag), tag

    monkeypatch.setattr(resume_module, "restore_rng_states", lambda states, generator: None)
    train_spec(None, resume=tmp_path / "without-rng", quiet=True)
    assert not same(weights(tmp_path / "without-rng", "last"), weights(reference, "last"))


def test_resume_refuses_another_spec_a_finished_run_and_a_run_without_checkpoint(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC.replace("epochs: 12", "epochs: 1"))
    run_dir = train_spec(spec, out_root=tmp_path, run_name="done", quiet=True).run_dir
    other = tmp_path / "other.yaml"
    other.write_text(SPEC.replace("p: 0.3", "p: 0.5"))
    with pytest.raises(TrainError, match=r"other.yaml differs from the spec the run in .* was "
                                         r"started with \(first difference at line 7: "):
        train_spec(other, resume=run_dir)
    with pytest.raises(TrainError, match=r"given the overrides \['train.seed=5'\], but the "
                                         r"run was started with \[\]"):
        train_spec(spec, ["train.seed=5"], resume=run_dir)
    with pytest.raises(TrainError, match="already finished"):
        train_spec(spec, resume=run_dir)
    (run_dir / "checkpoints" / "resume.safetensors").unlink()
    with pytest.raises(TrainError, match="has no resume checkpoint"):
        train_spec(None, resume=run_dir)


def test_a_run_that_died_after_early_stopping_does_not_train_on(tmp_path):
    stopping = EarlyStoppingConfig(monitor="train_loss", mode="max", patience=1)
    recipe = Recipe.from_sections("classification", train=TrainConfig(epochs=10),
                                  regularization=RegularizationConfig(early_stopping=stopping))
    first = fit(mlp(), classification_data(), recipe, tmp_path, device="cpu", seed=0,
                metadata={}, quiet=True)
    assert first.epochs_run == 2 and first.stopped_early
    (tmp_path / "result.json").unlink()  # as if it died before finishing
    again = fit(mlp(), classification_data(), recipe, tmp_path, device="cpu", seed=0,
                metadata={}, quiet=True, options=FitOptions(resume=True))
    assert again.epochs_run == 2 and again.history == first.history
    assert again.test_metrics == first.test_metrics


def test_a_damaged_or_foreign_resume_checkpoint_is_refused(tmp_path):
    recipe = Recipe.from_sections("classification", train=TrainConfig(epochs=2))
    fit(mlp(), classification_data(), recipe, tmp_path, device="cpu", seed=0, metadata={},
        quiet=True)
    (tmp_path / "result.json").unlink()  # as if it died before finishing
    state = tmp_path / "checkpoints" / "resume.safetensors"
    with safe_open(state, framework="pt") as handle:
        header = json.loads(handle.metadata()["dlspec_resume"])
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    save_file(tensors, state, metadata={"dlspec_resume": json.dumps({**header, "format": 1})})
    with pytest.raises(TrainError, match="has format 1, this dlspec reads format 3"):
        fit(mlp(), classification_data(), recipe, tmp_path, device="cpu", seed=0,
            metadata={}, quiet=True, options=FitOptions(resume=True))
    state.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainError, match="cannot read the resume checkpoint") as caught:
        fit(mlp(), classification_data(), recipe, tmp_path, device="cpu", seed=0,
            metadata={}, quiet=True, options=FitOptions(resume=True))
    assert caught.value.codes == ["DLS404"]

"""`dlspec train --resume RUN --epochs N`: a finished run trained on to N epochs ends as an
uninterrupted N-epoch run would, where the schedule does not depend on the run's length."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch
from train_data_fixtures import digits_mlp_spec
from typer.testing import CliRunner

from dlspec.api import train_spec
from dlspec.cli import app
from dlspec.errors import TrainError
from dlspec.train.run_folder.checkpoint import load_checkpoint

SPEC = digits_mlp_spec("tiny-extend", """\
optimizer: {op: adamw, lr: 3e-3}
schedule: {op: step, step_size: 2, gamma: 0.5, interval: epoch}
data: {dataset: digits, split: [0.8, 0.1, 0.1], batch_size: 64}
train: {epochs: 3, seed: 3}
""")
STEPS_PER_EPOCH = 23  # 1437 train samples in batches of 64


def rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def weights(run_dir: Path, name: str) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "checkpoints" / f"{name}.safetensors").state_dict


def test_a_finished_run_extended_equals_an_uninterrupted_longer_run(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    short = train_spec(spec, out_root=tmp_path, run_name="short", quiet=True).run_dir
    extended = train_spec(None, ["train.epochs=5"], resume=short, quiet=True)
    reference = train_spec(spec, ["train.epochs=5"], out_root=tmp_path, run_name="long",
                           quiet=True)
    assert extended.epochs_run == 5 and not extended.stopped_early
    assert rows(short) == rows(reference.run_dir)  # metrics.csv continued, no row twice
    assert [r["lr"] for r in rows(short)] == ["0.003", "0.003", "0.0015", "0.0015", "0.00075"]
    for name in ("last", "best"):
        ours, theirs = weights(short, name), weights(reference.run_dir, name)
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs), name
    assert extended.test_metrics == reference.test_metrics
    assert json.loads((short / "run.json").read_text())["epochs"] == 5
    assert json.loads((short / "result.json").read_text())["epochs_run"] == 5

    with pytest.raises(TrainError, match="--epochs 4 does not extend the run in .*: it has "
                                         "finished 5 epochs"):
        train_spec(None, ["train.epochs=4"], resume=short, quiet=True)
    with pytest.raises(TrainError, match=r"already finished \(epoch 5\)"):
        train_spec(None, resume=short, quiet=True)  # run.json keeps the 5 epochs


def test_a_run_stopped_by_early_stopping_is_not_extended(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC.replace(
        "train: {", "regularization: {early_stopping: {monitor: train_loss, mode: max, "
                    "patience: 1}}\ntrain: {"))
    stopped = train_spec(spec, out_root=tmp_path, run_name="stopped", quiet=True)
    assert stopped.epochs_run == 2 and stopped.stopped_early
    with pytest.raises(TrainError, match=r"was stopped by early stopping \(train_loss did not "
                                         r"improve for 1 epochs\)"):
        train_spec(None, ["train.epochs=6"], resume=stopped.run_dir, quiet=True)
    assert "epochs" not in json.loads((stopped.run_dir / "run.json").read_text())
    assert (stopped.run_dir / "result.json").exists()  # a refused extension changes nothing


def test_extending_a_cosine_run_says_where_the_rate_jumps(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC.replace("{op: step, step_size: 2, gamma: 0.5, interval: epoch}",
                                 "{op: cosine, min_lr: 1e-5}"))
    short = train_spec(spec, out_root=tmp_path, run_name="short", quiet=True).run_dir
    result = CliRunner().invoke(app, ["train", "--resume", str(short), "--epochs", "5"])
    assert result.exit_code == 0, result.output
    step = 3 * STEPS_PER_EPOCH
    after = 1e-5 + (3e-3 - 1e-5) * (1 + math.cos(math.pi * step / (5 * STEPS_PER_EPOCH))) / 2
    assert result.output.startswith(
        "extending the run from 3 to 5 epochs\nnote: the cosine schedule is planned over the "
        f"run's length: from step {step} it follows the 5-epoch curve (lr 1e-05 -> "
        f"{after:.3g}), so the result differs from an uninterrupted 5-epoch run\n")
    assert "epoch 5/5" in result.output


def test_fewer_epochs_than_planned_read_as_shortening():
    """A run stopped at epoch 3 of 10 and resumed with --epochs 5 is shortened, not
    extended (the note used to say 'extending the run from 10 to 5 epochs')."""
    from types import SimpleNamespace

    from dlspec.train.engine.extend import extension_notes

    run = SimpleNamespace(recipe=SimpleNamespace(train=SimpleNamespace(epochs=5), schedule=[]),
                          monitor=SimpleNamespace(should_stop=False))
    assert extension_notes(run, 3, 30, 10) == ["shortening the run from 10 to 5 epochs"]
    run.recipe.train.epochs = 12
    assert extension_notes(run, 3, 30, 10) == ["extending the run from 10 to 12 epochs"]

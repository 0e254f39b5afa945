"""A full disk while checkpointing: DLS410 naming the folder, the space needed and the
resume command; the previous checkpoint stays whole, no temporary file is left, and the run
resumed once there is space ends as an uninterrupted one. The full disk is injected into
the writes (ENOSPC as the safetensors library and the OS raise it): CI cannot mount a
small tmpfs without root."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from safetensors import SafetensorError
from train_data_fixtures import classification_data, mlp

import dlspec.train.run_folder.checkpoint as checkpoint_module
import dlspec.train.run_folder.resume as resume_module
from dlspec.errors import TrainError
from dlspec.train.engine.loop import fit
from dlspec.train.engine.setup import FitOptions
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import TrainConfig
from dlspec.train.run_folder.disk_full import no_space_error, no_space_errors
from dlspec.train.run_folder.resume import checkpoint_step

RECIPE = Recipe.from_sections("classification", train=TrainConfig(epochs=4))
STEPS_PER_EPOCH = 4  # 210 train samples in batches of 64
RUST_ENOSPC = ('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: '
               '"No space left on device" })')


def train(run_dir: Path, resume: bool = False):
    return fit(mlp(), classification_data(), RECIPE, run_dir, device="cpu", seed=0,
               metadata={}, quiet=True, options=FitOptions(resume=resume))


def epoch_of(metadata: dict[str, str]) -> int:
    if "dlspec_resume" in metadata:
        return json.loads(metadata["dlspec_resume"])["epoch"]
    return int(metadata["epoch"])


def fill_the_disk_from_epoch(monkeypatch, module, error: Exception, epoch: int) -> None:
    """The writes of `module` fail like a full disk from `epoch`'s checkpoint on: some
    bytes reach the temporary file, then the error."""
    real = module.save_file

    def save_file(tensors, filename, metadata=None):
        if epoch_of(metadata) < epoch:
            return real(tensors, filename, metadata=metadata)
        Path(filename).write_bytes(b"\0" * 100)
        raise error
    monkeypatch.setattr(module, "save_file", save_file)


def without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


@pytest.mark.parametrize("module, error, needs", [
    (checkpoint_module, SafetensorError(RUST_ENOSPC), "it needs about 412 bytes"),
    (resume_module, OSError(errno.ENOSPC, "No space left on device"), "it needs about"),
], ids=["last.safetensors", "resume.safetensors"])
def test_a_full_disk_stops_the_run_resumably_with_a_located_error(tmp_path, monkeypatch,
                                                                   module, error, needs):
    run_dir = tmp_path / "run"
    fill_the_disk_from_epoch(monkeypatch, module, error, 3)
    with pytest.raises(TrainError) as caught:
        train(run_dir)
    assert caught.value.codes == ["DLS410"]
    diagnostic = caught.value.diagnostics[0]
    name = "last.safetensors" if module is checkpoint_module else "resume.safetensors"
    assert (f"no space left on the device to write {name} in {run_dir / 'checkpoints'}: "
            f"{needs}") in diagnostic.message
    assert diagnostic.hint.endswith(f"then resume with: dlspec train --resume {run_dir}")
    assert checkpoint_step(resume_module.RunFiles(run_dir)) == 2 * STEPS_PER_EPOCH
    assert not [p for p in (run_dir / "checkpoints").iterdir() if p.name.startswith(".")]

    monkeypatch.undo()  # space again
    resumed = train(run_dir, resume=True)
    whole = train(tmp_path / "whole")
    assert resumed.epochs_run == 4
    assert without_seconds(resumed.history) == without_seconds(whole.history)
    assert resumed.test_metrics == whole.test_metrics


def test_a_full_disk_before_the_first_checkpoint_says_to_start_again(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "spec.yaml").write_text("name: x\n")
    error = no_space_error(run / "checkpoints" / "last.safetensors", 5_300_000)
    assert error.codes == ["DLS410"]
    assert "it needs about 5.3 MB (" in error.diagnostics[0].message
    assert "free" in error.diagnostics[0].message
    assert "no resume checkpoint yet, so start it again" in error.diagnostics[0].hint


def test_other_write_errors_pass_unchanged(tmp_path):
    with pytest.raises(PermissionError), no_space_errors(tmp_path / "x", 10):
        raise PermissionError(errno.EACCES, "Permission denied")
    with pytest.raises(SafetensorError, match="header too large"), \
            no_space_errors(tmp_path / "x", 10):
        raise SafetensorError("header too large")
    with pytest.raises(TrainError, match="^error DLS410: the disk quota is exceeded to write x in "), no_space_errors(tmp_path / "x", 10):
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

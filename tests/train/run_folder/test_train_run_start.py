"""A new run's folder: made whole at once, only on a free name, and removed after a failure
when the run kept nothing."""

from __future__ import annotations

import pytest

from dlspec.errors import TrainError
from dlspec.train.run_folder.run_start import NewRun, named_folder, timestamped_folder

NOON = 1_700_000_000.0


def write_spec(folder):
    (folder / "spec.yaml").write_text("name: x\n")


def test_the_folder_appears_whole_and_only_on_a_free_name(tmp_path):
    root = tmp_path / "runs"
    first = timestamped_folder(root, "mlp", now=NOON)
    assert not root.exists()  # choosing a name makes nothing
    NewRun(first, write_spec).create()
    assert sorted(p.name for p in first.iterdir()) == ["checkpoints", "spec.yaml", "tb"]
    second = timestamped_folder(root, "mlp", now=NOON)
    assert second.name == f"{first.name}-2"
    with pytest.raises(TrainError, match="already holds a run"):
        named_folder(root, first.name)
    (root / "empty").mkdir()
    NewRun(named_folder(root, "empty"), write_spec).create()  # an empty folder may be used
    late = NewRun(first, write_spec)  # another run took the name meanwhile
    with pytest.raises(TrainError, match=f"run folder {first} already holds a run"):
        late.create()
    assert sorted(p.name for p in root.iterdir()) == ["empty", first.name]  # no staging left


def test_a_failed_write_leaves_nothing(tmp_path):
    def fail(folder):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        NewRun(tmp_path / "runs" / "a", fail).create()
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_failed_run_is_removed_unless_it_kept_an_epoch_or_a_checkpoint(tmp_path):
    run = NewRun(tmp_path / "a", write_spec)
    run.create()
    (run.folder / "metrics.csv").write_text("epoch,step\n")
    assert run.discard_unless_kept() and not run.folder.exists()
    assert not run.discard_unless_kept()  # nothing left to remove
    for kept in ("metrics.csv", "checkpoints/resume.safetensors"):
        run = NewRun(tmp_path / kept.replace("/", "-"), write_spec)
        run.create()
        (run.folder / kept).write_text("epoch,step\n1,10\n")
        assert not run.discard_unless_kept() and run.folder.exists()


def test_a_staging_folder_a_killed_process_left_is_removed_by_the_next_start(tmp_path):
    from dlspec.files import HOST, MARK

    root = tmp_path / "runs"
    dead = root / f".mlp.{MARK}-{HOST}-{2**31 + 7}.starting"  # no process has that pid
    alive = root / f".mlp.{MARK}-{HOST}-1.starting"  # pid 1 runs
    foreign = root / f".mlp.{MARK}-0badc0de-{2**31 + 7}.starting"  # another machine's
    other = root / f".cnn.{MARK}-{HOST}-{2**31 + 7}.starting"  # another run's name
    for folder in (dead, alive, foreign, other):
        (folder / "checkpoints").mkdir(parents=True)
    NewRun(root / "mlp", write_spec).create()
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["mlp", alive.name, foreign.name, other.name])

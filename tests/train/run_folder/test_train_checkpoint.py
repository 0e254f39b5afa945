"""safetensors checkpoints: bitwise round trip, extras, metadata, atomic writes, errors."""

from __future__ import annotations

import json
import threading

import pytest
import torch
from torch import nn

import dlspec.train.run_folder.checkpoint as checkpoint_module
from dlspec.errors import TrainError
from dlspec.train.run_folder.checkpoint import (
    CheckpointWriter,
    apply_checkpoint,
    copy_checkpoint,
    load_checkpoint,
    save_checkpoint,
)

META = {"spec_name": "tiny", "epoch": "3", "class_names": json.dumps(["a", "b"])}


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))


def test_round_trip_is_bitwise_with_extras_and_metadata(tmp_path):
    state = model().state_dict()
    state["odd.float64"] = torch.randn(3, dtype=torch.float64)
    state["odd.bfloat16"] = torch.randn(5).to(torch.bfloat16)
    extras = {"preprocess.mean": torch.tensor([0.5, -1.0, 2.0, 3.0]),
              "preprocess.std": torch.tensor([1.0, 2.0, 0.5, 4.0])}
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, state, META, extras)
    loaded = load_checkpoint(path)
    assert loaded.metadata == META
    assert set(loaded.state_dict) == set(state)
    for name, tensor in state.items():
        assert loaded.state_dict[name].dtype == tensor.dtype
        assert torch.equal(loaded.state_dict[name], tensor), name
    assert set(loaded.extras) == set(extras)
    for name, tensor in extras.items():
        assert torch.equal(loaded.extras[name], tensor)
    assert "_dlspec.preprocess.mean" in _raw_keys(path)


def _raw_keys(path):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return set(handle.keys())


def test_shared_and_strided_tensors_are_stored(tmp_path):
    weight = torch.arange(12.0).reshape(3, 4)
    state = {"embed.weight": weight, "head.weight": weight, "transposed": weight.t(),
             "row": weight[1]}
    save_checkpoint(tmp_path / "tied.safetensors", state, {})
    loaded = load_checkpoint(tmp_path / "tied.safetensors").state_dict
    for name, tensor in state.items():
        assert torch.equal(loaded[name], tensor), name


def test_the_reserved_prefix_and_non_string_metadata_are_refused(tmp_path):
    with pytest.raises(ValueError, match="reserved prefix"):
        save_checkpoint(tmp_path / "x.safetensors", {"_dlspec.x": torch.zeros(1)}, {})
    with pytest.raises(TypeError, match="must be strings"):
        save_checkpoint(tmp_path / "x.safetensors", {"w": torch.zeros(1)}, {"epoch": 3})
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "last.safetensors"
    save_checkpoint(path, {"w": torch.ones(2)}, {"epoch": "1"})
    before = path.read_bytes()

    def half_written(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module, "save_file", half_written)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"w": torch.zeros(2)}, {"epoch": "2"})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]


def test_a_successful_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "last.safetensors"
    save_checkpoint(path, {"w": torch.ones(2)}, {"epoch": "1"})
    save_checkpoint(path, {"w": torch.full((2,), 7.0)}, {"epoch": "2"})
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]
    loaded = load_checkpoint(path)
    assert loaded.metadata["epoch"] == "2" and loaded.state_dict["w"].tolist() == [7.0, 7.0]


def test_copy_checkpoint_survives_a_later_replacement_of_its_source(tmp_path):
    last, best = tmp_path / "last.safetensors", tmp_path / "best.safetensors"
    save_checkpoint(last, {"w": torch.ones(2)}, {"epoch": "1"})
    copy_checkpoint(last, best)
    save_checkpoint(last, {"w": torch.zeros(2)}, {"epoch": "2"})
    assert load_checkpoint(best).metadata["epoch"] == "1"
    assert load_checkpoint(best).state_dict["w"].tolist() == [1.0, 1.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.safetensors",
                                                           "last.safetensors"]


def test_copying_onto_an_existing_copy_leaves_no_temporary(tmp_path):
    last, best = tmp_path / "last.safetensors", tmp_path / "best.safetensors"
    save_checkpoint(last, {"w": torch.ones(2)}, {"epoch": "1"})
    copy_checkpoint(last, best)
    copy_checkpoint(last, best)  # best is already a link to last: nothing to do
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.safetensors",
                                                           "last.safetensors"]


def test_unreadable_checkpoints_are_dls404(tmp_path):
    with pytest.raises(TrainError, match="cannot read checkpoint") as error:
        load_checkpoint(tmp_path / "missing.safetensors")
    assert error.value.codes == ["DLS404"]
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 3)
    with pytest.raises(TrainError, match="cannot read checkpoint"):
        load_checkpoint(garbage)


def test_apply_checkpoint_loads_weights_or_explains_the_mismatch(tmp_path):
    source, target = model(), nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    save_checkpoint(tmp_path / "m.safetensors", source.state_dict(), {})
    apply_checkpoint(target, load_checkpoint(tmp_path / "m.safetensors"))
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    other = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5))
    with pytest.raises(TrainError, match=r"unexpected: 2.bias, 2.weight; different shape: "
                                         r"0.bias, 0.weight, 1.bias") as e:
        apply_checkpoint(other, load_checkpoint(tmp_path / "m.safetensors"))
    assert e.value.codes == ["DLS404"]


def test_the_background_writer_snapshots_tensors_and_keeps_order(tmp_path):
    weight = torch.ones(3)
    with CheckpointWriter() as writer:
        writer.save(tmp_path / "last.safetensors", {"w": weight}, {"epoch": "1"})
        writer.copy(tmp_path / "last.safetensors", tmp_path / "best.safetensors")
        weight.fill_(5.0)  # training goes on changing the weights in place
        writer.save(tmp_path / "last.safetensors", {"w": weight}, {"epoch": "2"})
    assert load_checkpoint(tmp_path / "best.safetensors").state_dict["w"].tolist() == [1.0] * 3
    assert load_checkpoint(tmp_path / "last.safetensors").state_dict["w"].tolist() == [5.0] * 3
    assert not [t for t in threading.enumerate() if t.name.startswith("dlspec-ckpt")]


def test_the_background_writer_reports_a_failure(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the checkpoint folder should be")
    writer = CheckpointWriter()
    writer.save(blocker / "last.safetensors", {"w": torch.ones(1)}, {})
    with pytest.raises(OSError):
        writer.wait()
    writer.close()


def test_save_with_hands_a_snapshot_to_the_function(tmp_path):
    weight, seen = torch.ones(2), []
    with CheckpointWriter() as writer:
        writer.save_with(lambda tag, tensors: seen.append((tag, tensors)), {"w": weight}, "a")
        weight.fill_(7.0)
    ((tag, tensors),) = seen
    assert tag == "a" and tensors["w"].tolist() == [1.0, 1.0]


def test_writes_asked_for_together_start_when_the_block_ends(tmp_path):
    weight = torch.ones(2)
    with CheckpointWriter() as writer:
        with writer.together():
            writer.save(tmp_path / "last.safetensors", {"w": weight}, {})
            writer.copy(tmp_path / "last.safetensors", tmp_path / "best.safetensors")
            weight.fill_(7.0)  # the snapshot was taken when the write was asked for
            assert not list(tmp_path.iterdir())  # nothing written inside the block
        writer.wait()
    assert (tmp_path / "best.safetensors").samefile(tmp_path / "last.safetensors")
    assert load_checkpoint(tmp_path / "best.safetensors").state_dict["w"].tolist() == [1.0, 1.0]

"""dlspec.train.run_folder.tensor_checksum: every checkpoint dlspec writes carries a CRC-32 of
each tensor in its metadata, and a flipped byte in any tensor's data is refused on load."""

from __future__ import annotations

import json
import struct

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from dlspec.errors import TrainError
from dlspec.train.run_folder.checkpoint import (
    CheckpointWriter,
    copy_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from dlspec.train.run_folder.tensor_checksum import KEY, tensor_crc32, verify_checksums

STATE = {"fc1.weight": torch.arange(12.0).reshape(3, 4), "fc1.bias": torch.zeros(3),
         "steps": torch.tensor(7), "half": torch.linspace(0, 1, 5).to(torch.bfloat16),
         "empty": torch.zeros(0, 4)}
EXTRAS = {"preprocess.std": torch.tensor([1.0, 2.0, 0.5, 4.0])}


def flip_byte(path, tensor: str, index: int = 0) -> None:
    """Flip one bit of byte `index` of `tensor`'s data in a safetensors file."""
    raw = bytearray(path.read_bytes())
    (size,) = struct.unpack("<Q", raw[:8])
    start = json.loads(raw[8:8 + size])[tensor]["data_offsets"][0]
    raw[8 + size + start + index] ^= 0x04
    path.write_bytes(bytes(raw))


def damage(path, *args) -> str:
    with pytest.raises(TrainError) as caught:
        load_checkpoint(path)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "DLS404"
    return diagnostic.message


def test_every_tensor_has_a_checksum_and_the_metadata_reads_back_without_it(tmp_path):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, STATE, {"epoch": "3"}, EXTRAS)
    with safe_open(str(path), framework="pt") as handle:
        sums = json.loads(handle.metadata()[KEY])
    assert sums == {**{k: tensor_crc32(v) for k, v in STATE.items()},
                    "_dlspec.preprocess.std": tensor_crc32(EXTRAS["preprocess.std"])}
    assert len(set(sums.values())) == len(sums)
    loaded = load_checkpoint(path)
    assert loaded.metadata == {"epoch": "3"}
    assert all(torch.equal(loaded.state_dict[k], v) for k, v in STATE.items())


@pytest.mark.parametrize("tensor, index", [("fc1.weight", 0), ("fc1.weight", 47),
                                           ("steps", 7), ("half", 3),
                                           ("_dlspec.preprocess.std", 5)])
def test_a_flipped_bit_in_any_tensor_is_refused_naming_file_and_tensor(tmp_path, tensor,
                                                                       index):
    path = tmp_path / "best.safetensors"
    save_checkpoint(path, STATE, {"epoch": "3"}, EXTRAS)
    flip_byte(path, tensor, index)
    assert damage(path) == (f"checkpoint {path} is damaged: the data of tensor '{tensor}' "
                            "does not match its checksum")


def test_the_background_writer_and_a_copy_keep_the_checksums(tmp_path):
    with CheckpointWriter() as writer:
        writer.save(tmp_path / "last.safetensors", STATE, {"epoch": "1"})
        writer.copy(tmp_path / "last.safetensors", tmp_path / "best.safetensors")
    assert load_checkpoint(tmp_path / "best.safetensors").metadata == {"epoch": "1"}
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes((tmp_path / "last.safetensors").read_bytes())
    flip_byte(copy, "fc1.bias", 11)
    assert "tensor 'fc1.bias' does not match" in damage(copy)
    copy_checkpoint(copy, tmp_path / "again.safetensors")
    assert "tensor 'fc1.bias' does not match" in damage(tmp_path / "again.safetensors")


def test_a_file_from_before_checksums_still_loads(tmp_path):
    path = tmp_path / "old.safetensors"
    save_file(dict(STATE), str(path), metadata={"epoch": "2"})
    flip_byte(path, "fc1.weight")  # nothing to check it against
    assert load_checkpoint(path).metadata == {"epoch": "2"}


def test_a_missing_tensor_or_a_garbled_table_is_refused(tmp_path):
    sums = {k: tensor_crc32(v) for k, v in STATE.items()}
    fewer = {k: v for k, v in STATE.items() if k != "steps"}
    with pytest.raises(TrainError, match="is damaged: tensor 'steps' is missing"):
        verify_checksums(tmp_path / "x", fewer, {KEY: json.dumps(sums)})
    with pytest.raises(TrainError, match=r"its checksum table \(dlspec_crc32 in the header\) "
                                         "is unreadable"):
        verify_checksums(tmp_path / "x", STATE, {KEY: "[1, 2"})
    verify_checksums(tmp_path / "x", STATE, {KEY: json.dumps(sums)})  # passes


def test_the_checksum_covers_dtype_and_shape():
    flat = torch.arange(12.0)
    assert tensor_crc32(flat) != tensor_crc32(flat.reshape(3, 4))
    assert tensor_crc32(flat.reshape(3, 4).t()) != tensor_crc32(flat.reshape(3, 4))
    assert tensor_crc32(torch.zeros(2, dtype=torch.int32)) != tensor_crc32(
        torch.zeros(2, dtype=torch.float32))

"""The source file of an import: a safetensors header read without torch, pickles refused."""

from __future__ import annotations

import struct

import pytest
import torch
from safetensors.torch import save_file

from dlspec.errors import DlspecError
from dlspec.weights.source import check_safetensors


def test_a_safetensors_header_gives_the_tensor_names(tmp_path):
    save_file({"a.weight": torch.zeros(2), "b": torch.ones(1)}, str(tmp_path / "w.safetensors"),
              metadata={"format": "pt"})
    assert sorted(check_safetensors(tmp_path / "w.safetensors")) == ["a.weight", "b"]


@pytest.mark.parametrize(("name", "data", "why"), [
    ("short.safetensors", b"abc", "too short for a safetensors file"),
    ("model.pt", b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "its header size is absurd"),  # torch.save
    ("model.bin", b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8", "its header size is absurd"),  # pickle
    ("list.safetensors", struct.pack("<Q", 2) + b"[]", "its header is not a JSON object"),
    ("text.safetensors", struct.pack("<Q", 3) + b"{x}", "its header is not JSON"),
])
def test_what_is_not_safetensors_is_refused_with_how_to_make_one(tmp_path, name, data, why):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(DlspecError) as caught:
        check_safetensors(tmp_path / name)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "DLS007" and why in diagnostic.message
    pickled = name.startswith("model")
    assert ("never loads pickled weights" in diagnostic.hint) == pickled


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(DlspecError, match="cannot read weights .*nope.safetensors: No such"):
        check_safetensors(tmp_path / "nope.safetensors")

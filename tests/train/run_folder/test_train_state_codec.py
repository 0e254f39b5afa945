"""Training state as JSON + safetensors: every structure comes back exactly, nothing pickled."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from dlspec.train.run_folder.resume import restore_rng_states, rng_states
from dlspec.train.run_folder.state_codec import decode, encode, pack, unpack


def round_trip(value, tmp_path):
    """encode -> JSON text and a safetensors file -> decode, as a resume checkpoint does."""
    tensors: dict[str, torch.Tensor] = {}
    data = json.loads(json.dumps(encode(value, tensors), allow_nan=False))
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp_path / "t.safetensors"))
    return decode(data, load_file(str(tmp_path / "t.safetensors")))


def test_an_adam_state_dict_round_trips_exactly(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, betas=(0.8, 0.95))
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    state = optimizer.state_dict()
    back = round_trip(state, tmp_path)
    assert back["param_groups"][0]["betas"] == (0.8, 0.95)  # a tuple again
    assert sorted(back["state"]) == [0, 1]  # integer keys again
    for index, slots in state["state"].items():
        for name, tensor in slots.items():
            assert torch.equal(back["state"][index][name], tensor), name
    fresh = torch.optim.AdamW(model.parameters(), lr=0.5)
    fresh.load_state_dict(back)
    assert fresh.param_groups[0]["lr"] == 0.01


def test_non_finite_floats_numpy_arrays_and_nesting(tmp_path):
    value = {"best": math.inf, "worst": -math.inf, "nan": math.nan, "n": np.int64(3),
             "array": np.arange(5, dtype=np.uint32), "pairs": [(1, "a"), (2, None)],
             (1, 2): "tuple key", "__odd": True}
    back = round_trip(value, tmp_path)
    assert back["best"] == math.inf and back["worst"] == -math.inf and math.isnan(back["nan"])
    assert back["n"] == 3 and type(back["n"]) is int
    assert back["array"].dtype == np.uint32 and back["array"].tolist() == [0, 1, 2, 3, 4]
    assert back["pairs"] == [(1, "a"), (2, None)]
    assert back[(1, 2)] == "tuple key" and back["__odd"] is True


def test_rng_states_restore_every_generator(tmp_path):
    generator = torch.Generator().manual_seed(5)
    saved = round_trip(rng_states(generator), tmp_path)

    def draws():
        return (random.random(), float(np.random.rand()), float(torch.rand(())),
                torch.randperm(10, generator=generator).tolist())

    first = draws()
    restore_rng_states(saved, generator)
    assert draws() == first


def test_pack_keeps_every_tensor_in_one_buffer_per_dtype():
    tensors = {"moment": torch.randn(3, 4), "step": torch.tensor(7.0),
               "order": torch.randperm(5), "rng": torch.arange(6, dtype=torch.uint8),
               "half": torch.randn(2, dtype=torch.bfloat16), "flag": torch.tensor([True]),
               "strided": torch.randn(4, 3).T, "moment2": torch.randn(2)}
    buffers, layout = pack(tensors)
    assert len(buffers) == 5  # float32 (shared), int64, uint8, bfloat16, bool
    assert layout["moment2"] == ["packed.0", 12 + 1 + 12, [2]]
    expected = {k: v.clone() for k, v in tensors.items()}
    tensors["moment"].add_(1.0)  # the buffers are a snapshot
    again = unpack(buffers, layout)
    assert again.keys() == expected.keys()
    for name, tensor in expected.items():
        assert again[name].dtype == tensor.dtype and torch.equal(again[name], tensor), name
    assert again["step"].shape == () and again["strided"].is_contiguous()

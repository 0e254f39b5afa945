"""slice and split: the symbolic size rule agrees with Python's slicing at every length long
enough for the positions, and the pieces of a split put back together are the input."""

from __future__ import annotations

import itertools

import pytest
import torch
from harness import concretize
from pydantic import ValidationError

from dlspec.backends.torch_module import instantiate
from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.registry import op_registry
from dlspec.ops.slicing import part_size

POSITIONS = [None, *range(-4, 5)]


LENGTHS = range(9, 14)  # long enough to hold any start and end of POSITIONS apart


def test_symbolic_part_sizes_match_python_slicing():
    checked = 0
    for start, end, step in itertools.product(POSITIONS, POSITIONS, (1, 2, 3)):
        python = [len(range(length)[start:end:step]) for length in LENGTHS]
        try:
            size = part_size("seq", start, end, step)
        except RuleError:  # refused: empty, or from the end to a position from the start
            from_end_to_start = start is not None and start < 0 and end is not None and end >= 0
            assert set(python) == {0} or from_end_to_start, (start, end, step)
            continue
        assert [concretize(size, {"seq": n}) for n in LENGTHS] == python, (start, end, step)
        checked += 1
    assert checked > 150


def piece_layer(config: dict, x: torch.Tensor) -> torch.nn.Module:
    op = op_registry()["split"].model_validate({"op": "split", **config})
    shape = ("N", "seq", x.shape[2])
    op.infer(TensorType(shape))
    return instantiate(op.build(TensorType(shape)))


@pytest.mark.parametrize("config", [{"sizes": [1, -1, 2]}, {"sizes": [-1, 3]},
                                    {"sizes": [2, 1, -1]}])
def test_split_pieces_make_the_whole_at_any_length(config):
    pieces = len(config["sizes"])
    for length in (6, 9):
        x = torch.randn(2, length, 3)
        parts = [piece_layer({**config, "index": i}, x)(x) for i in range(pieces)]
        assert torch.equal(torch.cat(parts, dim=1), x)


def test_chunks_are_equal_consecutive_pieces():
    x = torch.randn(2, 4, 6)
    op = op_registry()["split"]
    parts = []
    for index in range(3):
        chunk = op.model_validate({"op": "split", "dim": -1, "chunks": 3, "index": index})
        assert chunk.infer(TensorType(("N", 4, 6))).shape == ("N", 4, 2)
        parts.append(instantiate(chunk.build(TensorType(("N", 4, 6))))(x))
    assert torch.equal(torch.cat(parts, dim=-1), x)


@pytest.mark.parametrize(("config", "message"), [
    ({"sizes": [2, 2], "chunks": 2}, "either sizes or chunks"),
    ({}, "either sizes or chunks"),
    ({"chunks": 2, "index": 2}, "index 2 is past the last of 2 pieces"),
    ({"sizes": [2, -1, -1]}, "one of which may be -1"),
    ({"sizes": [2, 0]}, "positive"),
    ({"sizes": [4]}, "two or more"),
])
def test_split_configs_that_cannot_work(config, message):
    with pytest.raises(ValidationError, match=message):
        op_registry()["split"].model_validate({"op": "split", **config})


def test_slice_takes_the_last_step_of_a_sequence():
    op = op_registry()["slice"].model_validate({"op": "slice", "start": -1})
    assert op.infer(TensorType(("N", "seq", 8))).shape == ("N", 1, 8)
    x = torch.randn(2, 7, 8)
    assert torch.equal(instantiate(op.build(TensorType(("N", "seq", 8))))(x), x[:, -1:])

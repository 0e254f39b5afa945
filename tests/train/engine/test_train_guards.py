"""The non-finite guard: counts streaks, and names the likely cause."""

from __future__ import annotations

import math

import pytest

from dlspec.errors import TrainError
from dlspec.train.engine.guards import NonFiniteGuard


def guard(tmp_path, data_finite=True, limit=3) -> NonFiniteGuard:
    return NonFiniteGuard(limit, lambda: data_finite, tmp_path / "last.safetensors")


def test_a_streak_shorter_than_the_limit_is_forgiven(tmp_path):
    g = guard(tmp_path)
    for step, finite in enumerate([True, False, False, True, False, False, True], start=1):
        g.observe(1.0 if finite else math.nan, finite, 1, step, 0.1)
    assert (g.in_a_row, g.total) == (0, 4)


def test_a_growing_loss_blames_the_learning_rate(tmp_path):
    g = guard(tmp_path)
    for step, loss in enumerate([2.0, 1.5, 40.0], start=1):
        g.observe(loss, True, 1, step, 0.5)
    (tmp_path / "last.safetensors").write_bytes(b"")
    with pytest.raises(TrainError) as error:
        for step in (4, 5, 6):
            g.observe(math.inf, False, 2, step, 0.5)
    text = str(error.value)
    assert "training loss stayed non-finite for 3 steps in a row (epoch 2, steps 4-6; the " \
           "last loss was inf)" in text
    assert "the loss grew from 1.5 to 40 before it broke" in text and "lr=0.5" in text
    assert f"last good checkpoint is {tmp_path / 'last.safetensors'}" in text


def test_bad_data_and_a_bad_op_are_named(tmp_path):
    with pytest.raises(TrainError, match="train data holds NaN or inf"):
        guard(tmp_path, data_finite=False, limit=1).observe(math.nan, False, 1, 1, 0.1)
    g = guard(tmp_path, limit=1)
    g.observe(2.0, True, 1, 1, 0.1)
    with pytest.raises(TrainError, match=r"(?s)training gradients stayed non-finite for 1 step "
                                         r"in a row \(epoch 1, step 2;.*run with "
                                         r"--detect-anomaly"):
        g.observe(1.9, False, 1, 2, 0.1)  # a finite loss: the gradients broke


def test_the_counters_survive_a_resume(tmp_path):
    g = guard(tmp_path)
    g.observe(2.0, True, 1, 1, 0.1)
    g.observe(math.nan, False, 1, 2, 0.1)
    h = guard(tmp_path)
    h.load_state_dict(g.state_dict())
    assert h.state_dict() == {"in_a_row": 1, "total": 1, "lowest": 2.0, "last": 2.0}

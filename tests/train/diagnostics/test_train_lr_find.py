"""The learning-rate range test: a sane suggestion on digits, a plot, no weights touched."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from dlspec.api import check, compile_module, load_data, recipe_for
from dlspec.train.diagnostics.lr_find import lr_range_test, steepest
from dlspec.train.diagnostics.plot import plot_lr_find

SPECS = Path(__file__).resolve().parents[3] / "specs"


@pytest.fixture(scope="module")
def digits():
    checked = check(SPECS / "mlp-digits.yaml")
    return checked, load_data(checked), recipe_for(checked)


def test_the_sweep_on_digits_suggests_a_sane_rate_and_leaves_the_model_alone(digits, tmp_path):
    checked, data, recipe = digits
    model = compile_module(checked)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = lr_range_test(model, data, recipe, device="cpu", seed=0, steps=100)
    assert 1e-4 <= result.suggestion <= 1e-1
    assert result.lrs[0] == pytest.approx(1e-7) and len(result.lrs) == len(result.smoothed)
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:], strict=False)]
    assert ratios == pytest.approx([10 ** (8 / 99)] * len(ratios))  # 1e-7 -> 10, exponential
    assert min(result.smoothed) < result.smoothed[0] - 0.2  # the loss did fall
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    png = plot_lr_find(result, tmp_path / "lr.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_diverging_sweep_stops_early(digits):
    checked, data, recipe = digits
    result = lr_range_test(compile_module(checked), data, recipe, device="cpu", seed=0,
                           min_lr=1e-2, max_lr=1e6, steps=60)
    assert result.diverged and len(result.lrs) < 60
    assert result.smoothed[-1] > 4 * min(result.smoothed) or not math.isfinite(
        result.losses[-1])


def test_steepest_picks_the_fastest_fall_before_the_minimum():
    lrs = [10 ** (-6 + i * 0.1) for i in range(50)]
    # flat, a fall centred at lr 1e-3 (i = 30), a minimum at i = 40, then a rise
    losses = [2 - math.tanh((i - 30) / 3) if i <= 40 else 1.0 + (i - 40) for i in range(50)]
    assert steepest(lrs, losses) == pytest.approx(lrs[30])
    assert steepest(lrs[:8], losses[:8]) is None  # too short to tell
    assert steepest(lrs, list(range(50))) is None  # only rising


def test_a_fall_within_the_batch_noise_gets_no_suggestion(digits):
    """A sweep that stays at rates too small to learn (1e-7 to 1e-4 in 60 steps) only sees
    the loss jitter from batch to batch; its steepest dip is not offered as a rate."""
    checked, data, recipe = digits
    result = lr_range_test(compile_module(checked), data, recipe, device="cpu", seed=0,
                           max_lr=1e-4, steps=60)
    assert result.suggestion is None and result.within_noise
    assert 0 < result.fall <= result.noise
    assert steepest(result.lrs, result.smoothed) is not None  # the bare heuristic would guess

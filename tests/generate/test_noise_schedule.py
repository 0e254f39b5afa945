"""The noise schedules against the papers' closed forms: Ho et al.'s linear betas (scaled by
1000 / T as Nichol & Dhariwal do), and Nichol & Dhariwal's cosine alpha_bar."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlspec.generate.noise_schedule import noise_schedule, schedule_of


def test_linear_at_1000_steps_is_ho_et_als_schedule():
    schedule = noise_schedule("linear", 1000)
    assert schedule.betas[0] == pytest.approx(1e-4) and schedule.betas[-1] == pytest.approx(0.02)
    assert schedule.betas[1] - schedule.betas[0] == pytest.approx((0.02 - 1e-4) / 999)
    expected = np.cumprod([1 - (1e-4 + i * (0.02 - 1e-4) / 999) for i in range(1000)])
    np.testing.assert_allclose(schedule.alphas_cumprod, expected, rtol=1e-12)
    # Ho et al.: the chain ends close to pure noise, alpha_bar_T ~ 4e-5
    assert schedule.alphas_cumprod[-1] == pytest.approx(4.04e-5, rel=0.01)


def test_linear_ends_scale_with_fewer_steps():
    schedule = noise_schedule("linear", 100, beta_start=2e-4, beta_end=0.01)
    assert schedule.betas[0] == pytest.approx(2e-3) and schedule.betas[-1] == pytest.approx(0.1)
    assert noise_schedule("linear", 10).betas[-1] == 0.999  # 0.02 * 100 capped


@pytest.mark.parametrize("steps", [1000, 50])
def test_cosine_alpha_bar_is_the_closed_form(steps):
    schedule = noise_schedule("cosine", steps)

    def f(t):
        return math.cos((t / steps + 0.008) / 1.008 * math.pi / 2) ** 2

    alpha_bar = schedule.alphas_cumprod
    for i in (0, 1, steps // 2, steps - 2):  # index i is step t = i + 1
        assert alpha_bar[i] == pytest.approx(f(i + 1) / f(0), rel=1e-9)
    assert schedule.betas.max() == 0.999  # the last beta would be 1 without the clip
    assert schedule.betas[-1] == 0.999 and schedule.betas[-2] < 0.999
    assert alpha_bar[-1] == pytest.approx(alpha_bar[-2] * 0.001)


def test_snr_and_schedule_of_an_info():
    info = {"schedule": "linear", "steps": 200, "beta_start": 1e-4, "beta_end": 0.02}
    schedule = schedule_of(info)
    assert schedule.steps == 200
    a = schedule.alphas_cumprod
    np.testing.assert_allclose(schedule.snr, a / (1 - a))
    assert np.all(np.diff(schedule.snr) < 0)  # noisier at every step


def test_bad_names_and_steps():
    with pytest.raises(ValueError, match="unknown noise schedule 'quadratic'"):
        noise_schedule("quadratic", 10)
    with pytest.raises(ValueError, match="at least one step"):
        noise_schedule("cosine", 0)

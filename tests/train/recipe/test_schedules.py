"""lr_at against the schedule formulas and against torch.optim.lr_scheduler over whole runs."""

from __future__ import annotations

import math

import pytest
import torch
from torch.optim import lr_scheduler as torch_schedulers

from dlspec.train.recipe.schedule_config import (
    ConstantSchedule,
    CosineSchedule,
    CyclicSchedule,
    ExponentialSchedule,
    LinearSchedule,
    LinearWarmupSchedule,
    MultiStepSchedule,
    OneCycleSchedule,
    StepSchedule,
)
from dlspec.train.recipe.schedules import lr_at, warmup_length

BASE = 0.1
SPE = 10  # steps per epoch
TOTAL = 100  # 10 epochs


def at(step, *schedules, total=TOTAL):
    return lr_at(step, SPE, total, BASE, schedules)


def curve(*schedules, total=TOTAL):
    return [at(step, *schedules, total=total) for step in range(total)]


def torch_curve(make, per_epoch=False, total=TOTAL):
    """The lr torch's scheduler gives each optimizer step, stepped per step or per epoch."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    scheduler = make(optimizer)
    seen = []
    for step in range(total):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if not per_epoch or (step + 1) % SPE == 0:
            scheduler.step()
    return seen


@pytest.mark.parametrize("step", [0, 5, 57, 99])
def test_constant_and_no_schedule_keep_the_base_rate(step):
    assert at(step) == BASE
    assert at(step, ConstantSchedule()) == BASE


@pytest.mark.parametrize(("step", "expected"), [
    (0, BASE), (29, BASE), (30, BASE * 0.5), (59, BASE * 0.5), (60, BASE * 0.25),
    (99, BASE * 0.125),
])
def test_step_decay_per_epochs(step, expected):
    # base * gamma ** floor(epoch / step_size) with epoch = step // 10
    assert at(step, StepSchedule(step_size=3, gamma=0.5)) == pytest.approx(expected)


def test_multi_step_exponential_and_linear_formulas():
    multi = MultiStepSchedule(milestones=[2, 5], gamma=0.1)
    assert [at(s, multi) for s in (19, 20, 49, 50, 99)] == pytest.approx(
        [BASE, BASE * 0.1, BASE * 0.1, BASE * 0.01, BASE * 0.01])
    assert at(37, ExponentialSchedule(gamma=0.9)) == pytest.approx(BASE * 0.9**3)
    assert at(37, ExponentialSchedule(gamma=0.99, interval="step")) == pytest.approx(
        BASE * 0.99**37)
    assert at(40, LinearSchedule(end_factor=0.2)) == pytest.approx(BASE * (1 - 0.8 * 0.4))


@pytest.mark.parametrize("step", [0, 1, 25, 50, 75, 99, 100, 150])
def test_cosine_follows_the_formula(step):
    min_lr = 0.001
    t = min(step, TOTAL)
    expected = min_lr + (BASE - min_lr) * (1 + math.cos(math.pi * t / TOTAL)) / 2
    assert at(step, CosineSchedule(min_lr=min_lr)) == pytest.approx(expected, rel=1e-12)


def test_an_epoch_interval_changes_the_rate_at_epoch_starts_only():
    cosine = CosineSchedule(interval="epoch")
    for step in (30, 31, 39):
        assert at(step, cosine) == pytest.approx(BASE * (1 + math.cos(math.pi * 3 / 10)) / 2)


@pytest.mark.parametrize(("step", "factor"), [(0, 0.0), (5, 0.5), (9, 0.9), (10, 1.0),
                                              (60, 1.0)])
def test_linear_warmup_alone(step, factor):
    assert at(step, LinearWarmupSchedule(steps=10)) == pytest.approx(BASE * factor)


def test_warmup_start_factor_and_epochs():
    warmup = LinearWarmupSchedule(epochs=2, start_factor=0.2)
    assert warmup_length([warmup], SPE) == 20
    for step in (0, 7, 19, 20, 50):
        assert at(step, warmup) == pytest.approx(BASE * (0.2 + 0.8 * min(step, 20) / 20))


@pytest.mark.parametrize("step", [0, 3, 9, 10, 11, 40, 99])
def test_warmup_then_cosine_anneals_over_the_rest_of_the_run(step):
    warmup, cosine = LinearWarmupSchedule(steps=10), CosineSchedule(min_lr=0.01)
    if step < 10:
        expected = BASE * step / 10
    else:
        expected = 0.01 + (BASE - 0.01) * (1 + math.cos(math.pi * (step - 10) / 90)) / 2
    assert at(step, warmup, cosine) == pytest.approx(expected, rel=1e-12)


def test_warmup_multiplies_step_decay_counted_from_the_start():
    warmup, step_decay = LinearWarmupSchedule(steps=15), StepSchedule(step_size=1, gamma=0.5)
    assert at(12, warmup, step_decay) == pytest.approx(BASE * 0.5 * 12 / 15)
    assert at(25, warmup, step_decay) == pytest.approx(BASE * 0.25)


def test_warmup_matches_torch_linear_lr():
    reference = torch_curve(lambda o: torch_schedulers.LinearLR(o, start_factor=0.25,
                                                                total_iters=8), total=12)
    ours = curve(LinearWarmupSchedule(steps=8, start_factor=0.25), total=12)
    assert ours == pytest.approx(reference, rel=1e-9)


@pytest.mark.parametrize(("ours", "theirs", "per_epoch"), [
    (StepSchedule(step_size=3, gamma=0.5), lambda o: torch_schedulers.StepLR(o, 3, 0.5), True),
    (StepSchedule(step_size=7, gamma=0.5, interval="step"),
     lambda o: torch_schedulers.StepLR(o, 7, 0.5), False),
    (MultiStepSchedule(milestones=[2, 5, 8]),
     lambda o: torch_schedulers.MultiStepLR(o, [2, 5, 8]), True),
    (ExponentialSchedule(gamma=0.8), lambda o: torch_schedulers.ExponentialLR(o, 0.8), True),
    (ExponentialSchedule(gamma=0.97, interval="step"),
     lambda o: torch_schedulers.ExponentialLR(o, 0.97), False),
    (CosineSchedule(min_lr=0.001),
     lambda o: torch_schedulers.CosineAnnealingLR(o, T_max=TOTAL, eta_min=0.001), False),
    (CosineSchedule(min_lr=0.001, interval="epoch"),
     lambda o: torch_schedulers.CosineAnnealingLR(o, T_max=10, eta_min=0.001), True),
    (LinearSchedule(end_factor=0.1), lambda o: torch_schedulers.LinearLR(
        o, start_factor=1.0, end_factor=0.1, total_iters=TOTAL), False),
    (OneCycleSchedule(), lambda o: torch_schedulers.OneCycleLR(
        o, max_lr=BASE, total_steps=TOTAL, cycle_momentum=False), False),
    (OneCycleSchedule(anneal="linear", three_phase=True, pct_start=0.25, div_factor=10),
     lambda o: torch_schedulers.OneCycleLR(
         o, max_lr=BASE, total_steps=TOTAL, cycle_momentum=False, anneal_strategy="linear",
         three_phase=True, pct_start=0.25, div_factor=10), False),
    (OneCycleSchedule(interval="epoch"), lambda o: torch_schedulers.OneCycleLR(
        o, max_lr=BASE, total_steps=10, cycle_momentum=False), True),
    (CyclicSchedule(min_lr=0.01, step_size_up=7, step_size_down=5, mode="triangular2"),
     lambda o: torch_schedulers.CyclicLR(o, 0.01, BASE, step_size_up=7, step_size_down=5,
                                         mode="triangular2", cycle_momentum=False), False),
    (CyclicSchedule(min_lr=0.01, step_size_up=6, mode="exp_range", gamma=0.99),
     lambda o: torch_schedulers.CyclicLR(o, 0.01, BASE, step_size_up=6, mode="exp_range",
                                         gamma=0.99, cycle_momentum=False), False),
])
def test_whole_runs_match_torch_schedulers(ours, theirs, per_epoch):
    assert curve(ours) == pytest.approx(torch_curve(theirs, per_epoch), rel=1e-9, abs=1e-15)


def test_one_cycle_and_cyclic_start_after_the_warmup():
    warmup, cycle = LinearWarmupSchedule(steps=20), CyclicSchedule(min_lr=0.0, step_size_up=10)
    assert at(20, warmup, cycle) == pytest.approx(0.0)  # the cycle's bottom, at its start
    assert at(30, warmup, cycle) == pytest.approx(BASE)
    one_cycle = OneCycleSchedule(pct_start=0.5)
    assert at(20, warmup, one_cycle) == pytest.approx(BASE / 25)
    peak = max(curve(warmup, one_cycle))
    assert peak == pytest.approx(BASE, rel=1e-3) and peak <= BASE

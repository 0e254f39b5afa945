"""lr_at against the schedule formulas, and LambdaLR applying it every optimizer step."""

from __future__ import annotations

import math

import pytest
import torch

from dlspec.train.config import (
    ConstantSchedule,
    CosineSchedule,
    LinearWarmupSchedule,
    StepSchedule,
)
from dlspec.train.schedules import lr_at, make_lr_scheduler, warmup_length

BASE = 0.1
SPE = 10  # steps per epoch
TOTAL = 100


def at(step, *schedules, total=TOTAL):
    return lr_at(step, SPE, total, BASE, schedules)


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


@pytest.mark.parametrize("step", [0, 1, 25, 50, 75, 99, 100, 150])
def test_cosine_follows_the_formula(step):
    min_lr = 0.001
    t = min(step, TOTAL)
    expected = min_lr + (BASE - min_lr) * (1 + math.cos(math.pi * t / TOTAL)) / 2
    assert at(step, CosineSchedule(min_lr=min_lr)) == pytest.approx(expected, rel=1e-12)


def test_cosine_known_points():
    cosine = CosineSchedule(min_lr=0.0)
    assert at(0, cosine) == pytest.approx(BASE)
    assert at(50, cosine) == pytest.approx(BASE / 2)
    assert at(100, cosine) == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize(("step", "factor"), [(0, 0.0), (5, 0.5), (9, 0.9), (10, 1.0),
                                              (60, 1.0)])
def test_linear_warmup_alone(step, factor):
    assert at(step, LinearWarmupSchedule(steps=10)) == pytest.approx(BASE * factor)


def test_warmup_start_factor_and_epochs():
    warmup = LinearWarmupSchedule(epochs=2, start_factor=0.2)
    assert warmup_length([warmup], SPE) == 20
    for step in (0, 7, 19, 20, 50):
        factor = 0.2 + 0.8 * min(step, 20) / 20
        assert at(step, warmup) == pytest.approx(BASE * factor)


@pytest.mark.parametrize("step", [0, 3, 9, 10, 11, 40, 99])
def test_warmup_then_cosine_anneals_over_the_rest_of_the_run(step):
    warmup, cosine = LinearWarmupSchedule(steps=10), CosineSchedule(min_lr=0.01)
    if step < 10:
        expected = BASE * step / 10
    else:
        t, span = step - 10, TOTAL - 10
        expected = 0.01 + (BASE - 0.01) * (1 + math.cos(math.pi * t / span)) / 2
    assert at(step, warmup, cosine) == pytest.approx(expected, rel=1e-12)


def test_warmup_multiplies_step_decay_counted_from_the_start():
    warmup, step_decay = LinearWarmupSchedule(steps=15), StepSchedule(step_size=1, gamma=0.5)
    assert at(12, warmup, step_decay) == pytest.approx(BASE * 0.5 * 12 / 15)
    assert at(25, warmup, step_decay) == pytest.approx(BASE * 0.25)


def test_warmup_matches_torch_linear_lr():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=BASE)
    reference = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.25, total_iters=8)
    warmup = LinearWarmupSchedule(steps=8, start_factor=0.25)
    for step in range(12):
        assert at(step, warmup) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-9)
        optimizer.step()
        reference.step()


def test_the_scheduler_applies_lr_at_every_optimizer_step():
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=BASE)
    schedules = (LinearWarmupSchedule(steps=5), CosineSchedule(min_lr=0.001))
    scheduler = make_lr_scheduler(optimizer, schedules, steps_per_epoch=4, total_steps=20)
    seen = []
    for _ in range(20):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = [lr_at(step, 4, 20, BASE, schedules) for step in range(20)]
    assert seen == pytest.approx(expected, rel=1e-12)
    assert seen[0] == 0.0 and seen[5] == pytest.approx(BASE)


def test_a_constant_rate_needs_no_scheduler():
    optimizer = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=BASE)
    assert make_lr_scheduler(optimizer, (), 10, 100) is None
    assert make_lr_scheduler(optimizer, (ConstantSchedule(),), 10, 100) is None

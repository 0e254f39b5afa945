"""LrScheduler applies lr_at every optimizer step to every group, and reduce_on_plateau
follows torch's ReduceLROnPlateau epoch by epoch."""

from __future__ import annotations

import pytest
import torch
from train_data_fixtures import classification_data, mlp

from dlspec.errors import TrainError
from dlspec.train.engine.loop import fit
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import SGDConfig, TrainConfig
from dlspec.train.recipe.lr_scheduler import LrScheduler, make_lr_scheduler
from dlspec.train.recipe.schedule_config import (
    ConstantSchedule,
    CosineSchedule,
    LinearWarmupSchedule,
    ReduceOnPlateauSchedule,
)
from dlspec.train.recipe.schedules import lr_at

BASE = 0.1


def sgd(*group_lrs):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in group_lrs]
    return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, group_lrs,
                                                                         strict=True)], lr=BASE)


def test_the_scheduler_applies_lr_at_every_optimizer_step():
    optimizer = sgd(BASE)
    schedules = (LinearWarmupSchedule(steps=5), CosineSchedule(min_lr=0.001))
    scheduler = make_lr_scheduler(optimizer, schedules, steps_per_epoch=4, total_steps=20)
    seen = []
    for _ in range(20):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([lr_at(s, 4, 20, BASE, schedules) for s in range(20)],
                                 rel=1e-12)
    assert seen[0] == 0.0 and seen[5] == pytest.approx(BASE)


def test_each_group_follows_the_curve_scaled_by_its_own_lr():
    optimizer = sgd(BASE, 0.01)  # e.g. a backbone at a tenth of the head's rate
    scheduler = LrScheduler(optimizer, (CosineSchedule(),), steps_per_epoch=5, total_steps=10)
    for _ in range(4):
        scheduler.step()
    head, backbone = scheduler.get_last_lr()
    assert head == pytest.approx(lr_at(4, 5, 10, BASE, (CosineSchedule(),)))
    assert backbone == pytest.approx(head / 10)


def test_a_constant_rate_needs_no_scheduler():
    assert make_lr_scheduler(sgd(BASE), (), 10, 100) is None
    assert make_lr_scheduler(sgd(BASE), (ConstantSchedule(),), 10, 100) is None


@pytest.mark.parametrize(("settings", "values"), [
    ({"patience": 2, "factor": 0.5, "cooldown": 1, "min_lr": 0.02},
     [1.0, 0.9, 0.9, 0.95, 0.91, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]),
    ({"monitor": "val_accuracy", "patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
     [0.5, 0.6, 0.62, 0.64, 0.7, 0.71, 0.72, 0.9, float("nan"), 0.9, 0.9]),
    ({"patience": 0, "threshold": 0.1}, [1.0, 0.95, 0.8, 0.79, 0.5]),
])
def test_reduce_on_plateau_matches_torch_over_a_run(settings, values):
    config = ReduceOnPlateauSchedule(**settings)
    optimizer, reference_optimizer = sgd(BASE), sgd(BASE)
    scheduler = make_lr_scheduler(optimizer, (config,), steps_per_epoch=3, total_steps=99)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(
        reference_optimizer, mode=config.mode, factor=config.factor, patience=config.patience,
        threshold=config.threshold, threshold_mode=config.threshold_mode,
        cooldown=config.cooldown, min_lr=config.min_lr)
    ours, theirs = [], []
    for value in values:
        for _ in range(3):
            scheduler.step()
        scheduler.epoch_end({"epoch": 1, config.monitor: value, "train_loss": 0.3})
        reference.step(value)
        ours.append(optimizer.param_groups[0]["lr"])
        theirs.append(reference_optimizer.param_groups[0]["lr"])
    assert ours == pytest.approx(theirs, rel=1e-12)
    assert min(ours) < BASE  # each case reduces at least once


def test_plateau_reductions_multiply_the_warmup():
    schedules = (LinearWarmupSchedule(steps=10), ReduceOnPlateauSchedule(patience=0))
    scheduler = make_lr_scheduler(sgd(BASE), schedules, steps_per_epoch=4, total_steps=40)
    for loss in (1.0, 2.0):  # the second epoch is worse: one reduction
        for _ in range(4):
            scheduler.step()
        scheduler.epoch_end({"val_loss": loss})
    assert scheduler.get_last_lr() == pytest.approx([BASE * 0.8 * 0.1])  # step 8 of 10, x 0.1


def test_a_plateau_monitor_the_run_lacks_is_a_clear_error():
    scheduler = make_lr_scheduler(sgd(BASE), (ReduceOnPlateauSchedule(),), 4, 40)
    with pytest.raises(TrainError, match="monitors 'val_loss', which this run does not") as e:
        scheduler.epoch_end({"epoch": 1, "train_loss": 0.5, "seconds": 1.0})
    assert "did you mean 'train_loss'" in str(e.value) and e.value.codes == ["DLS102"]


def test_state_dict_resumes_the_same_curve():
    schedules = (LinearWarmupSchedule(steps=3), ReduceOnPlateauSchedule(patience=0))
    first = make_lr_scheduler(sgd(BASE, 0.05), schedules, 4, 40)
    for loss in (1.0, 2.0, 3.0):
        for _ in range(4):
            first.step()
        first.epoch_end({"val_loss": loss})
    resumed = make_lr_scheduler(sgd(BASE, 0.05), schedules, 4, 40)
    resumed.load_state_dict(first.state_dict())
    assert resumed.get_last_lr() == first.get_last_lr()
    for scheduler in (first, resumed):
        scheduler.step()
        scheduler.epoch_end({"val_loss": 0.5})
    assert resumed.get_last_lr() == pytest.approx(first.get_last_lr(), rel=1e-15)
    assert first.get_last_lr()[0] == pytest.approx(BASE * 0.01)


def test_fit_drives_reduce_on_plateau_with_the_validation_loss(tmp_path):
    plateau = ReduceOnPlateauSchedule(factor=0.5, patience=0)
    recipe = Recipe.from_sections("classification", optimizer=SGDConfig(lr=1e-7),
                                  schedule=plateau, train=TrainConfig(epochs=4))
    result = fit(mlp(), classification_data(), recipe, tmp_path, device="cpu", seed=0,
                 metadata={}, quiet=True)
    # so small a rate cannot improve val_loss by 1e-4: every epoch after the first reduces
    assert [r["lr"] for r in result.history] == pytest.approx([1e-7, 1e-7, 5e-8, 2.5e-8])

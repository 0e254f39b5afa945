"""The schedule section's models: defaults, per-op intervals and what is refused."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from dlspec.train.recipe.schedule_config import ScheduleSpec

SCHEDULE = TypeAdapter(ScheduleSpec)


@pytest.mark.parametrize(("entry", "interval"), [
    ({"op": "step", "step_size": 3}, "epoch"),
    ({"op": "multi_step", "milestones": [3, 6]}, "epoch"),
    ({"op": "exponential", "gamma": 0.9}, "epoch"),
    ({"op": "cosine"}, "step"),
    ({"op": "linear"}, "step"),
    ({"op": "one_cycle"}, "step"),
    ({"op": "cyclic", "min_lr": 1e-4, "step_size_up": 100}, "step"),
])
def test_decays_tick_per_epoch_and_shapes_per_step_by_default(entry, interval):
    assert SCHEDULE.validate_python(entry).interval == interval
    assert SCHEDULE.validate_python({**entry, "interval": "step"}).interval == "step"


def test_defaults_follow_torch_and_the_papers():
    one_cycle = SCHEDULE.validate_python({"op": "one_cycle"})
    assert (one_cycle.pct_start, one_cycle.div_factor, one_cycle.final_div_factor,
            one_cycle.anneal, one_cycle.three_phase) == (0.3, 25.0, 1e4, "cos", False)
    plateau = SCHEDULE.validate_python({"op": "reduce_on_plateau"})
    assert (plateau.monitor, plateau.mode, plateau.factor, plateau.patience, plateau.threshold,
            plateau.cooldown, plateau.min_lr) == ("val_loss", "min", 0.1, 10, 1e-4, 0, 0.0)
    assert SCHEDULE.validate_python({"op": "reduce_on_plateau",
                                     "monitor": "val_accuracy"}).mode == "max"
    cyclic = SCHEDULE.validate_python({"op": "cyclic", "min_lr": 0.0, "step_size_up": 4})
    assert (cyclic.mode, cyclic.step_size_down, cyclic.gamma) == ("triangular", None, 1.0)
    assert SCHEDULE.validate_python({"op": "linear"}).end_factor == 0.0


def test_a_warmup_composes_with_reduce_on_plateau():
    warmup, plateau = SCHEDULE.validate_python(
        [{"op": "linear_warmup", "epochs": 2}, {"op": "reduce_on_plateau", "patience": 3}])
    assert (warmup.epochs, plateau.patience) == (2, 3)


@pytest.mark.parametrize(("bad", "message"), [
    ({"op": "multi_step", "milestones": [5, 3]}, "strictly increasing"),
    ({"op": "multi_step", "milestones": []}, "at least 1"),
    ({"op": "exponential"}, "gamma"),
    ({"op": "cyclic", "step_size_up": 10}, "min_lr"),
    ({"op": "cyclic", "min_lr": 0.0, "step_size_up": 10, "gamma": 1.5}, "gamma"),
    ({"op": "one_cycle", "pct_start": 1.0}, "pct_start"),
    ({"op": "reduce_on_plateau", "factor": 1.0}, "factor"),
    ({"op": "step", "step_size": 2, "interval": "batch"}, "interval"),
    ([{"op": "reduce_on_plateau"}, {"op": "cosine"}], "combines reduce_on_plateau, cosine"),
])
def test_invalid_schedules_are_rejected(bad, message):
    with pytest.raises(ValidationError, match=message):
        SCHEDULE.validate_python(bad)

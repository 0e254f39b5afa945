"""The learning-rate curve of a whole run from a spec's recipe and data section."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlspec.data.config import DataConfig
from dlspec.train.diagnostics.schedule_report import lr_curve, steps_per_epoch
from dlspec.train.engine.steps import StepPlan
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import SGDConfig, TrainConfig
from dlspec.train.recipe.schedule_config import (
    CosineSchedule,
    LinearWarmupSchedule,
    ReduceOnPlateauSchedule,
)
from dlspec.train.recipe.schedules import lr_at


@pytest.mark.parametrize(("samples", "batch", "accumulate"), [
    (1437, 64, 1), (129, 64, 1), (128, 64, 1), (65, 64, 1), (10, 64, 1), (1, 8, 1),
    (300, 16, 4), (257, 32, 2), (2, 1, 1),
])
def test_steps_per_epoch_agree_with_the_training_plan(samples, batch, accumulate):
    plan = StepPlan.create(samples, batch, 1, accumulate)
    assert steps_per_epoch(samples, batch * accumulate) == plan.steps_per_epoch


def recipe(*schedules, epochs=5, batch_size=32):
    return Recipe.from_sections("classification", optimizer=SGDConfig(lr=0.2),
                                schedule=list(schedules), train=TrainConfig(epochs=epochs),
                                batch_size=batch_size)


def test_the_curve_of_a_builtin_dataset_needs_no_loading():
    warmup, cosine = LinearWarmupSchedule(steps=10), CosineSchedule(min_lr=0.01)
    curve = lr_curve(recipe(warmup, cosine), DataConfig(dataset="iris", split=[0.6, 0.2, 0.2]),
                     Path("."))
    # iris: 150 samples, 30 + 30 held out, 90 train -> batches of 32, 32, 26
    assert (curve.samples, curve.steps_per_epoch, curve.total_steps) == (90, 3, 15)
    assert list(curve.lrs) == [lr_at(s, 3, 15, 0.2, (warmup, cosine)) for s in range(15)]
    steps = [step for step, _ in curve.milestones()]
    assert steps == sorted(set(steps)) and steps[0] == 0 and steps[-1] == 14
    assert dict(curve.milestones())[10] == "warmup done, peak"
    assert "5 epochs x 3 steps = 15 optimizer steps (90 train samples" in curve.headline()


def test_reduce_on_plateau_is_shown_before_any_reduction():
    curve = lr_curve(recipe(ReduceOnPlateauSchedule(factor=0.5)), DataConfig(dataset="wine"),
                     Path("."))
    assert set(curve.lrs) == {0.2}
    assert "shown without reductions" in curve.headline()


def test_the_linear_scaling_example_of_the_docs_does_what_it_says():
    """docs/distributed.md's worked example: its command's --set options scale the batch and
    the learning rate by 4 and keep about as many warmup steps, as its text claims."""
    import re
    import shlex

    from dlspec.api import check
    from dlspec.train.diagnostics.schedule_report import spec_lr_curve

    root = Path(__file__).resolve().parents[3]
    text = (root / "docs" / "distributed.md").read_text()
    example = text[text.index("Worked example."):]
    command = re.search(r"```bash\n(.*?)```", example, re.S).group(1).replace("\\\n", " ")
    words = shlex.split(command)
    assert words[:3] == ["dlspec", "train", "specs/mlp-digits.yaml"]
    sets = [words[i + 1] for i, word in enumerate(words) if word == "--set"]
    assert "--nproc" in words and len(sets) == 3

    def peak_step(curve):  # the first step at the peak learning rate: the warmup's length
        return curve.lrs.index(max(curve.lrs))

    spec = root / "specs" / "mlp-digits.yaml"
    base, scaled = spec_lr_curve(check(spec)), spec_lr_curve(check(spec, sets))
    assert (base.samples, base.steps_per_epoch, scaled.steps_per_epoch) == (1437, 23, 6)
    assert "1,437 training digits" in example and "6 steps instead of 23" in example
    assert scaled.step_samples == 4 * base.step_samples
    assert max(scaled.lrs) == pytest.approx(4 * max(base.lrs))
    assert (peak_step(base), peak_step(scaled)) == (23, 24)

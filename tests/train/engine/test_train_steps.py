"""Optimizer steps: the plan, gradient accumulation, and skipping non-finite steps."""

from __future__ import annotations

import math

import torch
from train_data_fixtures import classification_data, mlp, supervised_stepper

from dlspec.train.engine.batch import Tensors
from dlspec.train.engine.loop import fit
from dlspec.train.engine.precision import Precision
from dlspec.train.engine.steps import StepPlan
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import (
    CrossEntropyConfig,
    RegularizationConfig,
    SGDConfig,
    TrainConfig,
)
from dlspec.train.recipe.losses import build_loss


def test_the_plan_splits_steps_into_micro_batches():
    plan = StepPlan.create(samples=70, batch_size=16, epochs=2, accumulate=2)
    assert plan.bounds == ((0, 32), (32, 64), (64, 70))
    assert plan.micro == (((0, 16), (16, 32)), ((32, 48), (48, 64)), ((64, 70),))
    assert (plan.steps_per_epoch, plan.total_steps) == (3, 6)
    # a last piece of one sample joins the one before, in steps and in micro-batches
    assert StepPlan.create(33, 16, 1, 2).micro == (((0, 16), (16, 33)),)
    order = torch.arange(70).flip(0)
    (first, size), _ = StepPlan.create(70, 16, 1, 2).batches(0, order)
    assert size == 16 and first.tolist() == list(range(69, 53, -1))


def test_accumulating_two_batches_of_16_is_one_batch_of_32(tmp_path):
    data = classification_data()  # 210 train samples: 7 steps of 32, the last of 18
    weights = []
    for batch_size, accumulate in ((32, 1), (16, 2)):
        model = mlp()
        recipe = Recipe.from_sections(
            "classification", optimizer=SGDConfig(lr=0.1, momentum=0.9),
            train=TrainConfig(epochs=3, accumulate=accumulate), batch_size=batch_size)
        result = fit(model, data, recipe, tmp_path / str(accumulate), device="cpu", seed=0,
                     metadata={}, quiet=True)
        assert result.history[-1]["step"] == 3 * 7
        weights.append(model.state_dict())
    for name, tensor in weights[0].items():
        torch.testing.assert_close(weights[1][name], tensor, rtol=0, atol=1e-6)
    assert not torch.equal(weights[0]["0.weight"], mlp().state_dict()["0.weight"])


def test_a_non_finite_step_changes_no_weight_and_no_optimizer_state():
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 ** step)
    stepper = supervised_stepper(model, build_loss(CrossEntropyConfig(), "classification"),
                                 optimizer, Precision("fp32", "cpu"),
                                 RegularizationConfig(grad_clip_norm=1.0), scheduler)
    x, y = torch.randn(8, 2), torch.randint(0, 3, (8,))
    good = stepper.step(Tensors({"x": x}, y), [(slice(0, 8), 8)], norms=True)
    assert good.finite and good.lr == 0.1 and set(good.norms) == {"0", "2"}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    moments = {k: v.clone() for k, v in optimizer.state[model[0].weight].items()}
    x[3, 1] = math.nan
    bad = stepper.step(Tensors({"x": x}, y), [(slice(0, 4), 4), (slice(4, 8), 4)], norms=True)
    assert not bad.finite and math.isnan(bad.loss) and bad.norms is None and bad.lr == 0.05
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    for name, tensor in optimizer.state[model[0].weight].items():
        assert torch.equal(tensor, moments[name]), name
    assert optimizer.param_groups[0]["lr"] == 0.025  # the schedule moved on

"""The learning-rate range test (`dlspec lr-find`).

Train a copy of the model for up to `steps` optimizer steps while the learning rate grows
exponentially from `min_lr` to `max_lr`, recording the loss smoothed by an exponential
moving average (beta 0.9, bias-corrected). The sweep stops when the smoothed loss exceeds
`diverge` times its lowest value, or turns NaN/inf. The suggestion is the learning rate where the
smoothed loss falls fastest (the most negative slope against log lr) before its minimum,
provided that fall stands out of the loss's batch-to-batch noise (measured over the sweep's
first tenth, where the rate is too small to learn). The model given is never changed, and
nothing is written.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from dlspec.data.types import PreparedData
from dlspec.train.engine.batch import split_tensors
from dlspec.train.engine.device import resolve_device
from dlspec.train.engine.precision import Precision
from dlspec.train.engine.setup import make_objective
from dlspec.train.engine.steps import Learner, Stepper, StepPlan
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.optim import build_optimizer


@dataclass(frozen=True)
class LrFindResult:
    lrs: list[float]  # the learning rate of each step run
    losses: list[float]  # its raw loss
    smoothed: list[float]  # the smoothed loss
    suggestion: float | None  # None when the sweep is too short to tell
    diverged: bool  # the sweep stopped because the loss diverged
    within_noise: bool = False  # no suggestion: the loss's fall was within its noise

    @property
    def fall(self) -> float:
        """How far the smoothed loss fell from the end of the sweep's first tenth to its
        lowest point."""
        return self.smoothed[len(self.smoothed) // 10] - min(self.smoothed)

    @property
    def noise(self) -> float:
        """Twice the raw loss's standard deviation over the sweep's first tenth (at least
        three steps): what a fall must exceed to count."""
        return 2 * float(np.std(self.losses[:max(3, len(self.losses) // 10)]))


def lr_range_test(model: torch.nn.Module, data: PreparedData, recipe: Recipe, *, device: str,
                  seed: int, min_lr: float = 1e-7, max_lr: float = 10.0, steps: int = 100,
                  beta: float = 0.9, diverge: float = 4.0) -> LrFindResult:
    """Run the range test on a copy of `model` with the recipe's objective and optimizers
    (every other parameter group, of every optimizer, keeps its learning rate's ratio to
    the first)."""
    if not 0 < min_lr < max_lr or steps < 2:
        raise ValueError("lr_range_test needs 0 < min_lr < max_lr and steps >= 2")
    device = resolve_device(device)
    torch.manual_seed(seed)
    model = copy.deepcopy(model).to(device)
    train = split_tensors(data.train, device)
    objective = make_objective(model, data, recipe, device)
    objective.prepare(train)
    learners = [Learner.create(update, build_optimizer(objective.models[update.model],
                                                       recipe.optimizer_for(update.model)),
                               None, recipe.regularization)
                for update in objective.updates()]
    optimizer = learners[0].optimizer
    groups = [group for learner in learners for group in learner.optimizer.param_groups]
    ratios = [group["lr"] / optimizer.param_groups[0]["lr"] for group in groups]
    stepper = Stepper(model, objective, learners, Precision(recipe.train.precision, device))
    plan = StepPlan.create(len(train), recipe.batch_size, 1, recipe.train.accumulate)
    generator = torch.Generator().manual_seed(seed)
    lrs, losses, smoothed = [], [], []
    average, diverged = 0.0, False
    model.train()
    for i in range(steps):
        if i % plan.steps_per_epoch == 0:
            order = torch.randperm(len(train), generator=generator).to(device)
        lr = min_lr * (max_lr / min_lr) ** (i / (steps - 1))
        for group, ratio in zip(groups, ratios, strict=True):
            group["lr"] = lr * ratio
        result = stepper.step(train, plan.batches(i % plan.steps_per_epoch, order), step=i + 1)
        average = beta * average + (1 - beta) * result.loss
        value = average / (1 - beta ** (i + 1))
        if not result.finite or not math.isfinite(value):
            diverged = True
            break
        lrs.append(lr)
        losses.append(result.loss)
        smoothed.append(value)
        if value > diverge * min(smoothed):
            diverged = True
            break
    result = LrFindResult(lrs, losses, smoothed, steepest(lrs, smoothed), diverged)
    if result.suggestion is not None and result.fall <= result.noise:
        result = replace(result, suggestion=None, within_noise=True)
    return result


def steepest(lrs: list[float], smoothed: list[float]) -> float | None:
    """The lr of the most negative slope d(loss)/d(log lr) up to the loss's minimum,
    skipping the noisy first tenth of the sweep; None with fewer than 10 points."""
    if len(smoothed) < 10:
        return None
    lowest = int(np.argmin(smoothed))
    skip = len(smoothed) // 10
    if lowest - skip < 2:  # the loss only rose: start lower
        return None
    slopes = np.gradient(np.asarray(smoothed[:lowest + 1]), np.log(lrs[:lowest + 1]))
    return lrs[skip + int(np.argmin(slopes[skip:]))]

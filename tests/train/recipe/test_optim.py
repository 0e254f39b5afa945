"""build_optimizer: each optimizer's steps against its update formula, and the groups torch
gets against an optimizer built by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dlspec.errors import TrainError
from dlspec.train.recipe.optim import build_optimizer
from dlspec.train.recipe.optim_config import (
    AdagradConfig,
    AdamConfig,
    AdamWConfig,
    RMSpropConfig,
    SGDConfig,
)


def run(config, grads=(0.5,), weight=1.0):
    """A single scalar parameter after one optimizer step per gradient in `grads`."""
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(weight)
    optimizer = build_optimizer(model, config)
    for grad in grads:
        optimizer.zero_grad()
        model.weight.grad = torch.full_like(model.weight, grad)
        optimizer.step()
    return model.weight.item(), optimizer


def test_sgd_with_weight_decay():
    value, optimizer = run(SGDConfig(lr=0.1, weight_decay=0.1))
    assert value == pytest.approx(1 - 0.1 * (0.5 + 0.1), rel=1e-6)  # w - lr * (g + wd * w)
    assert optimizer.defaults["fused"] is True


def test_sgd_nesterov_momentum_over_two_steps():
    lr, mu, g = 0.1, 0.9, 0.5
    value, optimizer = run(SGDConfig(lr=lr, momentum=mu, nesterov=True), grads=(g, g))
    b1 = g  # the buffer starts as the gradient; the step uses g + mu * b
    w = 1.0 - lr * (g + mu * b1)
    b2 = mu * b1 + g
    w -= lr * (g + mu * b2)
    assert value == pytest.approx(w, rel=1e-6)
    assert optimizer.param_groups[0]["nesterov"] is True


def test_sgd_momentum_with_dampening():
    lr, mu, d = 0.1, 0.9, 0.3
    value, _ = run(SGDConfig(lr=lr, momentum=mu, dampening=d), grads=(0.5, -0.2))
    b1 = 0.5
    b2 = mu * b1 + (1 - d) * -0.2
    assert value == pytest.approx(1.0 - lr * b1 - lr * b2, rel=1e-6)


def test_adagrad_with_lr_decay():
    lr, decay, eps = 0.1, 0.5, 1e-10
    value, _ = run(AdagradConfig(lr=lr, lr_decay=decay), grads=(0.5, -0.2))
    total = 0.5**2
    w = 1.0 - lr * 0.5 / (math.sqrt(total) + eps)
    total += 0.2**2
    w -= lr / (1 + decay) * -0.2 / (math.sqrt(total) + eps)
    assert value == pytest.approx(w, rel=1e-6)


@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_with_momentum(centered):
    lr, alpha, mu, eps = 0.01, 0.9, 0.5, 1e-8
    value, _ = run(RMSpropConfig(lr=lr, alpha=alpha, momentum=mu, centered=centered),
                   grads=(0.5, -0.2))
    w, square, mean, buffer = 1.0, 0.0, 0.0, 0.0
    for g in (0.5, -0.2):
        square = alpha * square + (1 - alpha) * g * g
        mean = alpha * mean + (1 - alpha) * g
        denominator = math.sqrt(square - mean**2 if centered else square) + eps
        buffer = mu * buffer + g / denominator
        w -= lr * buffer
    assert value == pytest.approx(w, rel=1e-5)


def adam_by_hand(grads, lr, betas=(0.9, 0.999), eps=1e-8, amsgrad=False, w=1.0):
    m = v = v_max = 0.0
    for t, g in enumerate(grads, start=1):
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        v_max = max(v_max, v)
        v_hat = (v_max if amsgrad else v) / (1 - betas[1] ** t)
        w -= lr * (m / (1 - betas[0] ** t)) / (math.sqrt(v_hat) + eps)
    return w


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_and_amsgrad_against_the_formula(amsgrad):
    grads = (1.0, 0.01, 0.01, 0.01)  # v falls after the first step: amsgrad keeps its max
    value, _ = run(AdamConfig(lr=0.01, amsgrad=amsgrad), grads=grads)
    assert value == pytest.approx(adam_by_hand(grads, 0.01, amsgrad=amsgrad), rel=1e-6)
    assert adam_by_hand(grads, 0.01, amsgrad=True) != pytest.approx(adam_by_hand(grads, 0.01))


def test_adam_couples_weight_decay_and_adamw_decouples_it():
    value, _ = run(AdamConfig(lr=0.01, weight_decay=0.5), grads=(-0.1,))
    assert value == pytest.approx(1.0 - 0.01, rel=1e-5)  # g + wd * w = 0.4 > 0: a step of lr
    value, optimizer = run(AdamWConfig(lr=0.01, weight_decay=0.1))
    assert value == pytest.approx(1.0 * (1 - 0.01 * 0.1) - 0.01, rel=1e-5)
    assert isinstance(optimizer, torch.optim.AdamW)


def test_groups_train_like_a_torch_optimizer_built_by_hand():
    def net():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))

    ours, theirs = net(), net()
    config = AdamWConfig(lr=1e-2, weight_decay=0.2, no_decay="auto",
                         groups=[{"params": "0.*", "lr": 1e-3}])
    optimizer = build_optimizer(ours, config)
    p = dict(theirs.named_parameters())
    reference = torch.optim.AdamW([
        {"params": [p["2.weight"]]},
        {"params": [p["1.weight"], p["1.bias"], p["2.bias"]], "weight_decay": 0.0},
        {"params": [p["0.weight"]], "lr": 1e-3},
        {"params": [p["0.bias"]], "lr": 1e-3, "weight_decay": 0.0},
    ], lr=1e-2, weight_decay=0.2)
    assert [(g["lr"], g["weight_decay"], [id(q) for q in g["params"]])
            for g in optimizer.param_groups] == [
        (1e-2, 0.2, [id(ours[2].weight)]),
        (1e-2, 0.0, [id(ours[1].weight), id(ours[1].bias), id(ours[2].bias)]),
        (1e-3, 0.2, [id(ours[0].weight)]), (1e-3, 0.0, [id(ours[0].bias)])]
    assert optimizer.defaults["lr"] == 1e-2
    x = torch.randn(8, 3)
    for model, opt in ((ours, optimizer), (theirs, reference)):
        for _ in range(3):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a, b, msg=name)


def test_a_model_without_trainable_parameters_is_an_error():
    model = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(TrainError, match="no trainable parameters"):
        build_optimizer(model, AdamConfig())

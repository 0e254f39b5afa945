"""The L1/L2 penalty (its value, its gradient, which parameters it covers) and gradient
clipping by value and by norm."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlspec.train.recipe.config import RegularizationConfig
from dlspec.train.recipe.optim import build_optimizer
from dlspec.train.recipe.optim_config import AdamConfig, AdamWConfig, SGDConfig
from dlspec.train.recipe.penalties import Regularizer


def net():
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 3.0]]))
        model.bias.copy_(torch.tensor([4.0, -1.0]))
    return model


def regularizer(model, optimizer_config, **settings):
    return Regularizer(RegularizationConfig(**settings),
                       build_optimizer(model, optimizer_config))


def test_penalty_value_over_the_decayed_parameters():
    model = net()
    both = regularizer(model, SGDConfig(lr=0.1), l1=0.1, l2=0.2).penalty()
    # |w| sums to 6.5 + 5 (bias), w^2 to 14.25 + 17
    assert both.item() == pytest.approx(0.1 * 11.5 + 0.2 / 2 * 31.25)
    weights_only = regularizer(model, SGDConfig(lr=0.1, no_decay="auto"), l1=0.1, l2=0.2)
    assert weights_only.penalty().item() == pytest.approx(0.1 * 6.5 + 0.1 * 14.25)
    assert regularizer(model, SGDConfig(lr=0.1)).penalty() == 0.0


def test_the_l1_gradient_is_the_sign_and_the_l2_gradient_is_l2_times_w():
    model = net()
    regularizer(model, SGDConfig(lr=0.1, no_decay=["bias"]), l1=0.3, l2=0.5).penalty().backward()
    torch.testing.assert_close(model.weight.grad, 0.3 * model.weight.sign() + 0.5 * model.weight)
    assert model.bias.grad is None


@pytest.mark.parametrize(("optimizer", "same_as"), [
    (SGDConfig(lr=0.1, momentum=0.9), SGDConfig(lr=0.1, momentum=0.9, weight_decay=0.3)),
    (AdamConfig(lr=0.01), AdamConfig(lr=0.01, weight_decay=0.3)),
])
def test_an_l2_penalty_is_coupled_weight_decay(optimizer, same_as):
    torch.manual_seed(0)
    x, y = torch.randn(8, 2), torch.randn(8, 2)
    penalized, decayed, adamw = net(), net(), net()
    runs = [(penalized, optimizer, 0.3), (decayed, same_as, 0.0)]
    if isinstance(optimizer, AdamConfig):  # decoupled weight decay is a different algorithm
        runs.append((adamw, AdamWConfig(lr=0.01, weight_decay=0.3), 0.0))
    for model, config, l2 in runs:
        opt = build_optimizer(model, config)
        reg = Regularizer(RegularizationConfig(l2=l2), opt)
        for _ in range(3):
            opt.zero_grad()
            ((model(x) - y).pow(2).mean() + reg.penalty()).backward()
            opt.step()
    torch.testing.assert_close(penalized.weight, decayed.weight)
    torch.testing.assert_close(penalized.bias, decayed.bias)
    if isinstance(optimizer, AdamConfig):
        assert not torch.allclose(penalized.weight, adamw.weight, atol=1e-4)


def test_clipping_by_value_then_by_norm():
    model = net()
    reg = regularizer(model, SGDConfig(lr=0.1), grad_clip_value=1.0, grad_clip_norm=1.5)
    model.weight.grad = torch.tensor([[3.0, -0.5], [0.2, -4.0]])
    model.bias.grad = torch.tensor([0.0, 0.5])
    reg.clip_gradients()
    clipped = torch.tensor([1.0, -0.5, 0.2, -1.0, 0.0, 0.5])  # each element in [-1, 1]
    scaled = clipped * 1.5 / clipped.norm()  # then the whole norm down to 1.5
    got = torch.cat([model.weight.grad.flatten(), model.bias.grad])
    torch.testing.assert_close(got, scaled, rtol=1e-5, atol=1e-6)
    only_value = regularizer(model, SGDConfig(lr=0.1), grad_clip_value=0.25)
    model.weight.grad = torch.tensor([[3.0, -0.1], [0.2, -4.0]])
    only_value.clip_gradients()
    torch.testing.assert_close(model.weight.grad, torch.tensor([[0.25, -0.1], [0.2, -0.25]]))

"""Parameter groups (the weight-decay policy) and one optimizer step against the formulas."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlspec.errors import TrainError
from dlspec.train.config import AdamConfig, AdamWConfig, SGDConfig
from dlspec.train.optim import build_optimizer, matches_any, param_groups


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(3, 4)
        self.bn1 = nn.BatchNorm1d(4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(torch.relu(self.bn1(self.fc1(x))))


def names_by_decay(groups):
    return {group["weight_decay"]: group["param_names"] for group in groups}


def test_no_decay_patterns_put_biases_and_norms_in_a_zero_decay_group():
    groups = param_groups(Net(), 0.05, ["*.bias", "*bn*"])
    assert names_by_decay(groups) == {
        0.05: ["fc1.weight", "head.weight"],
        0.0: ["fc1.bias", "bn1.weight", "bn1.bias", "head.bias"],
    }
    model = Net()
    groups = param_groups(model, 0.05, ["*.bias", "*bn*"])
    assert {id(p) for g in groups for p in g["params"]} == {id(p) for p in model.parameters()}


def test_a_pattern_can_name_one_dotted_part():
    assert matches_any("block.0.bn1.bias", ["bias"])
    assert matches_any("block.0.bn1.bias", ["bn*"])
    assert not matches_any("block.0.fc.weight", ["bias", "bn*"])
    assert names_by_decay(param_groups(Net(), 0.1, ["bias"]))[0.0] == [
        "fc1.bias", "bn1.bias", "head.bias"]


def test_without_patterns_everything_is_decayed_and_frozen_parameters_are_left_out():
    model = Net()
    model.fc1.requires_grad_(False)
    groups = param_groups(model, 0.1, [])
    assert len(groups) == 1
    assert groups[0]["param_names"] == ["bn1.weight", "bn1.bias", "head.weight", "head.bias"]


def test_a_pattern_matching_nothing_is_an_error_with_a_suggestion():
    with pytest.raises(TrainError, match="no_decay pattern 'bais' matches no") as error:
        param_groups(Net(), 0.1, ["bais"])
    assert "did you mean 'bias'" in str(error.value)
    assert error.value.codes == ["DLS102"]


def one_step(config, weight=1.0, grad=0.5, steps=1):
    """A single scalar parameter with a fixed gradient, after `steps` optimizer steps."""
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(weight)
    optimizer = build_optimizer(model, config)
    for _ in range(steps):
        optimizer.zero_grad()
        model.weight.grad = torch.full_like(model.weight, grad)
        optimizer.step()
    return model.weight.item(), optimizer


def test_sgd_with_weight_decay():
    # w - lr * (g + wd * w) = 1 - 0.1 * (0.5 + 0.1)
    value, _ = one_step(SGDConfig(lr=0.1, weight_decay=0.1))
    assert value == pytest.approx(0.94, rel=1e-6)


def test_sgd_nesterov_momentum_over_two_steps():
    lr, mu, g = 0.1, 0.9, 0.5
    value, optimizer = one_step(SGDConfig(lr=lr, momentum=mu, nesterov=True), steps=2)
    # buffer b1 = g, step uses g + mu*b1; then b2 = mu*b1 + g, step uses g + mu*b2
    b1 = g
    w = 1.0 - lr * (g + mu * b1)
    b2 = mu * b1 + g
    w -= lr * (g + mu * b2)
    assert value == pytest.approx(w, rel=1e-6)
    assert optimizer.param_groups[0]["nesterov"] is True


def test_adam_first_step_moves_by_lr_and_couples_weight_decay():
    value, _ = one_step(AdamConfig(lr=0.01))
    assert value == pytest.approx(1.0 - 0.01, rel=1e-5)  # bias-corrected m/sqrt(v) = sign(g)
    # coupled L2: the gradient becomes g + wd*w, the first step is still lr * sign
    value, _ = one_step(AdamConfig(lr=0.01, weight_decay=0.5), grad=-0.1)
    assert value == pytest.approx(1.0 - 0.01, rel=1e-5)  # -0.1 + 0.5 = 0.4 > 0


def test_adamw_decays_the_weight_directly():
    lr, wd = 0.01, 0.1
    value, optimizer = one_step(AdamWConfig(lr=lr, weight_decay=wd))
    assert value == pytest.approx(1.0 * (1 - lr * wd) - lr, rel=1e-5)
    assert isinstance(optimizer, torch.optim.AdamW)


def test_adamw_leaves_no_decay_parameters_undecayed():
    model = Net()
    optimizer = build_optimizer(model, AdamWConfig(lr=0.1, weight_decay=0.5, no_decay=["bias"]))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # only weight decay can move a parameter
    optimizer.step()
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            assert torch.equal(p, before[name]), name
        else:
            assert torch.allclose(p, before[name] * (1 - 0.1 * 0.5)), name


def test_a_model_without_trainable_parameters_is_an_error():
    model = Net().requires_grad_(False)
    with pytest.raises(TrainError, match="no trainable parameters"):
        build_optimizer(model, AdamConfig())

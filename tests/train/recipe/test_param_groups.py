"""Parameter groups: no_decay (patterns and auto), groups by glob with their own lr and weight
decay, every parameter in exactly one group, and the errors of patterns matching nothing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlspec.errors import SpecError
from dlspec.train.recipe.optim_config import AdamWConfig, SGDConfig
from dlspec.train.recipe.param_groups import auto_no_decay, matches_any, param_groups


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 4))
        self.bn1 = nn.BatchNorm1d(4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(torch.relu(self.bn1(self.backbone(x))))


def summary(groups):
    return [(g["param_names"], g.get("lr"), g["weight_decay"]) for g in groups]


def ids(groups):
    return [id(p) for g in groups for p in g["params"]]


def test_no_decay_patterns_put_biases_and_norms_in_a_zero_decay_group():
    groups = param_groups(Net(), SGDConfig(lr=0.1, weight_decay=0.05,
                                           no_decay=["*.bias", "*bn*", "backbone.1.*"]))
    assert summary(groups) == [
        (["backbone.0.weight", "backbone.2.weight", "head.weight"], None, 0.05),
        (["backbone.0.bias", "backbone.1.weight", "backbone.1.bias", "backbone.2.bias",
          "bn1.weight", "bn1.bias", "head.bias"], None, 0.0)]
    assert [g["decayed"] for g in groups] == [True, False]


def test_no_decay_auto_is_every_bias_and_every_norm_parameter():
    model = Net()
    assert auto_no_decay(model) == {
        "backbone.0.bias", "backbone.1.weight", "backbone.1.bias", "backbone.2.bias",
        "bn1.weight", "bn1.bias", "head.bias"}
    explicit = param_groups(model, SGDConfig(lr=0.1, weight_decay=0.05,
                                             no_decay=["bias", "backbone.1.*", "bn1.*"]))
    auto = param_groups(model, SGDConfig(lr=0.1, weight_decay=0.05, no_decay="auto"))
    assert summary(auto) == summary(explicit)


def test_a_pattern_can_name_one_dotted_part():
    assert matches_any("block.0.bn1.bias", ["bias"])
    assert matches_any("block.0.bn1.bias", ["bn*"])
    assert not matches_any("block.0.fc.weight", ["bias", "bn*"])


def test_groups_by_glob_with_their_own_lr_and_weight_decay():
    model = Net()
    config = AdamWConfig(lr=1e-3, weight_decay=0.1, no_decay="auto", groups=[
        {"params": "backbone.0.*", "lr": 1e-5},
        {"params": ["backbone.*"], "lr": 1e-4, "weight_decay": 0.3},
    ])
    groups = param_groups(model, config)
    assert summary(groups) == [
        (["head.weight"], None, 0.1),
        (["bn1.weight", "bn1.bias", "head.bias"], None, 0.0),
        (["backbone.0.weight"], 1e-5, 0.1),
        (["backbone.0.bias"], 1e-5, 0.0),
        (["backbone.2.weight"], 1e-4, 0.3),  # backbone.0.* was taken by the first group
        (["backbone.1.weight", "backbone.1.bias", "backbone.2.bias"], 1e-4, 0.0),
    ]
    every = ids(groups)
    assert sorted(every) == sorted(id(p) for p in model.parameters())  # each exactly once


def test_frozen_parameters_are_left_out():
    model = Net()
    model.backbone.requires_grad_(False)
    groups = param_groups(model, SGDConfig(lr=0.1))
    assert summary(groups) == [(["bn1.weight", "bn1.bias", "head.weight", "head.bias"], None,
                                0.0)]


@pytest.mark.parametrize(("config", "message"), [
    (SGDConfig(lr=0.1, no_decay=["bais"]), "optimizer.no_decay: pattern 'bais' matches no"),
    (SGDConfig(lr=0.1, groups=[{"params": "bakbone.*"}]),
     "optimizer.groups.0..params: pattern 'bakbone.*' matches no"),
    (SGDConfig(lr=0.1, groups=[{"params": "backbone.*"}, {"params": "backbone.0.*"}]),
     "optimizer.groups.1. gets no parameter"),
])
def test_patterns_matching_nothing_are_errors(config, message):
    model = Net()
    with pytest.raises(SpecError, match=message) as error:
        param_groups(model, config)
    assert error.value.codes == ["DLS102"]


def test_a_typo_gets_a_suggestion():
    with pytest.raises(SpecError, match="did you mean 'bias'"):
        param_groups(Net(), SGDConfig(lr=0.1, no_decay=["bais"]))
    frozen = Net()
    frozen.head.requires_grad_(False)
    with pytest.raises(SpecError, match="'head.*' matches no trainable parameter"):
        param_groups(frozen, SGDConfig(lr=0.1, groups=[{"params": "head.*", "lr": 1.0}]))

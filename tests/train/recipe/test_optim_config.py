"""The optimizer section's models: literature defaults, parameter groups, what is refused."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from dlspec.train.recipe.optim import optimizer_settings
from dlspec.train.recipe.optim_config import OptimizerConfig, ParamGroupConfig

OPTIMIZER = TypeAdapter(OptimizerConfig)


def test_defaults_follow_the_literature_and_torch():
    adam = OPTIMIZER.validate_python({"op": "adam"})
    assert (adam.lr, adam.betas, adam.eps, adam.amsgrad) == (1e-3, (0.9, 0.999), 1e-8, False)
    assert OPTIMIZER.validate_python({"op": "adamw"}).weight_decay == 0.01
    adagrad = OPTIMIZER.validate_python({"op": "adagrad"})
    assert (adagrad.lr, adagrad.eps, adagrad.lr_decay) == (1e-2, 1e-10, 0.0)
    rmsprop = OPTIMIZER.validate_python({"op": "rmsprop"})
    assert (rmsprop.lr, rmsprop.alpha, rmsprop.eps, rmsprop.centered) == (1e-2, 0.99, 1e-8, False)
    sgd = OPTIMIZER.validate_python({"op": "sgd", "lr": 0.1})
    assert (sgd.momentum, sgd.dampening, sgd.nesterov, sgd.no_decay, sgd.groups) == (
        0.0, 0.0, False, [], [])


def test_torch_gets_every_setting_by_its_own_name():
    config = OPTIMIZER.validate_python({"op": "rmsprop", "lr": 0.1, "centered": True,
                                        "no_decay": "auto", "groups": [{"params": "x*"}]})
    assert optimizer_settings(config) == {"lr": 0.1, "alpha": 0.99, "eps": 1e-8,
                                          "momentum": 0.0, "centered": True,
                                          "weight_decay": 0.0}
    adam = OPTIMIZER.validate_python({"op": "adam", "betas": [0.8, 0.99]})
    assert optimizer_settings(adam)["betas"] == (0.8, 0.99)


def test_groups_take_one_pattern_or_several():
    one = ParamGroupConfig(params="backbone.*", lr=1e-4)
    several = ParamGroupConfig(params=["stem.*", "layer1.*"], weight_decay=0.0)
    assert (one.patterns, one.lr, one.weight_decay) == (["backbone.*"], 1e-4, None)
    assert several.patterns == ["stem.*", "layer1.*"]


@pytest.mark.parametrize(("bad", "message"), [
    ({"op": "sgd"}, "lr"),
    ({"op": "sgd", "lr": 0.1, "nesterov": True}, "nesterov: true needs momentum > 0"),
    ({"op": "sgd", "lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True},
     "dampening 0"),
    ({"op": "adam", "no_decay": "biases"}, "no_decay"),
    ({"op": "adam", "groups": [{"params": []}]}, "params"),
    ({"op": "adam", "groups": [{"params": "a*", "momentum": 0.9}]}, "momentum"),
    ({"op": "adam", "groups": [{"params": "a*", "lr": 0}]}, "lr"),
    ({"op": "rmsprop", "alpha": 1.0}, "alpha"),
    ({"op": "lion"}, "lion"),
])
def test_invalid_optimizers_are_rejected(bad, message):
    with pytest.raises(ValidationError, match=message):
        OPTIMIZER.validate_python(bad)

"""The new train settings as a spec writes them: init_from, freeze, precision, accumulate."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dlspec.train.recipe.config import InitFromConfig, TrainConfig


def test_init_from_defaults_and_a_spec_value():
    train = TrainConfig.model_validate({
        "init_from": {"path": "runs/base", "exclude": ["logits.*"],
                      "rename": {"backbone.": "stem."}},
        "freeze": ["stem"], "precision": "bf16", "accumulate": 4,
        "checkpoint_every_steps": 100})
    assert train.init_from == InitFromConfig(path="runs/base", include=["*"],
                                             exclude=["logits.*"],
                                             rename={"backbone.": "stem."})
    assert (train.freeze, train.precision, train.accumulate) == (["stem"], "bf16", 4)
    defaults = TrainConfig()
    assert (defaults.precision, defaults.accumulate, defaults.compile) == ("fp32", 1, False)
    assert (defaults.max_nonfinite_steps, defaults.checkpoint_every_steps) == (5, None)


@pytest.mark.parametrize("bad", [
    {"precision": "fp8"}, {"accumulate": 0}, {"max_nonfinite_steps": 0},
    {"checkpoint_every_steps": 0}, {"compile": "yes"},
    {"init_from": {"path": "a", "inclde": ["x"]}}, {"init_from": {"include": ["x"]}},
    {"init_from": {"path": "a", "exclude": [""]}},
])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValidationError):
        TrainConfig.model_validate(bad)


def test_init_from_takes_a_mapping_but_not_with_rename():
    config = InitFromConfig(path="ref.safetensors", mapping="resnet18")
    assert config.mapping == "resnet18" and config.rename == {}
    with pytest.raises(ValidationError, match="write the renames as rules of the mapping"):
        InitFromConfig(path="a", mapping="resnet18", rename={"a.": "b."})
    with pytest.raises(ValidationError):
        InitFromConfig(path="a", mapping="")

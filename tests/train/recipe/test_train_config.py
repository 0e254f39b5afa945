"""The training sections' pydantic models: defaults, validators, schema docs, no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import TypeAdapter, ValidationError

from dlspec.train.recipe import Recipe, default_loss, metric_names
from dlspec.train.recipe.config import (
    AdamConfig,
    AdamWConfig,
    EarlyStoppingConfig,
    LossConfig,
    OptimizerConfig,
    RegularizationConfig,
    ScheduleSpec,
    SGDConfig,
    TrainConfig,
)

LOSS = TypeAdapter(LossConfig)
OPTIMIZER = TypeAdapter(OptimizerConfig)
SCHEDULE = TypeAdapter(ScheduleSpec)


def test_loss_union_picks_the_class_by_op():
    loss = LOSS.validate_python({"op": "cross_entropy", "label_smoothing": 0.1,
                                 "class_weights": [1.0, 2.0, 0.5]})
    assert (loss.label_smoothing, loss.class_weights) == (0.1, [1.0, 2.0, 0.5])
    assert LOSS.validate_python({"op": "bce_with_logits", "pos_weight": 3}).pos_weight == 3.0
    assert LOSS.validate_python({"op": "mae"}).op == "mae"


@pytest.mark.parametrize("bad", [
    {"op": "cross_entropy", "label_smoothing": 1.5},
    {"op": "cross_entropy", "class_weights": [1.0, -1.0]},
    {"op": "bce_with_logits", "pos_weight": 0},
    {"op": "mse", "reduction": "sum"},  # unknown key
    {"op": "hinge"},  # unknown op
    {"label_smoothing": 0.1},  # op missing
])
def test_invalid_losses_are_rejected(bad):
    with pytest.raises(ValidationError):
        LOSS.validate_python(bad)


def test_optimizer_defaults_follow_the_literature():
    adam = OPTIMIZER.validate_python({"op": "adam"})
    assert (adam.lr, adam.betas, adam.eps, adam.weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 0.0)
    adamw = OPTIMIZER.validate_python({"op": "adamw"})
    assert isinstance(adamw, AdamWConfig) and adamw.weight_decay == 0.01
    sgd = OPTIMIZER.validate_python({"op": "sgd", "lr": 0.1})
    assert (sgd.momentum, sgd.nesterov, sgd.no_decay) == (0.0, False, [])


def test_sgd_needs_lr_and_nesterov_needs_momentum():
    with pytest.raises(ValidationError, match="lr"):
        OPTIMIZER.validate_python({"op": "sgd"})
    with pytest.raises(ValidationError, match="nesterov: true needs momentum > 0"):
        SGDConfig(lr=0.1, nesterov=True)
    assert SGDConfig(lr=0.1, momentum=0.9, nesterov=True).nesterov


def test_betas_must_be_two_values_below_one():
    with pytest.raises(ValidationError):
        AdamConfig(betas=(0.9, 1.0))
    with pytest.raises(ValidationError):
        OPTIMIZER.validate_python({"op": "adam", "betas": [0.9]})


def test_schedule_accepts_one_entry_or_a_warmup_then_one():
    assert SCHEDULE.validate_python({"op": "cosine"}).min_lr == 0.0
    warm, step = SCHEDULE.validate_python(
        [{"op": "linear_warmup", "steps": 100}, {"op": "step", "step_size": 5}])
    assert (warm.steps, warm.start_factor, step.gamma) == (100, 0.0, 0.1)


@pytest.mark.parametrize(("entries", "message"), [
    ([], "empty"),
    ([{"op": "cosine"}, {"op": "linear_warmup", "steps": 5}], "must come first"),
    ([{"op": "linear_warmup", "steps": 5}, {"op": "linear_warmup", "epochs": 1}],
     "more than one linear_warmup"),
    ([{"op": "cosine"}, {"op": "step", "step_size": 2}], "combines cosine, step"),
])
def test_bad_schedule_lists_explain_the_rule(entries, message):
    with pytest.raises(ValidationError, match=message):
        SCHEDULE.validate_python(entries)


@pytest.mark.parametrize("lengths", [{}, {"steps": 10, "epochs": 1}])
def test_warmup_needs_exactly_one_length(lengths):
    with pytest.raises(ValidationError, match="exactly one of `steps` or `epochs`"):
        SCHEDULE.validate_python({"op": "linear_warmup", **lengths})


@pytest.mark.parametrize(("monitor", "mode"), [
    ("val_loss", "min"), ("val_accuracy", "max"), ("val_r2", "max"), ("val_f1", "max"),
    ("val_mae", "min"), ("train_loss", "min"),
])
def test_early_stopping_mode_defaults_from_the_monitor(monitor, mode):
    assert EarlyStoppingConfig(monitor=monitor).mode == mode
    assert EarlyStoppingConfig(monitor=monitor, mode="max").mode == "max"


def test_regularization_and_train_defaults():
    regularization = RegularizationConfig()
    assert regularization.grad_clip_norm is None and regularization.early_stopping is None
    stopping = EarlyStoppingConfig()
    assert (stopping.patience, stopping.min_delta, stopping.restore_best) == (10, 0.0, True)
    train = TrainConfig()
    assert (train.epochs, train.seed, train.device, train.metrics, train.checkpoint_every) == (
        10, 0, "auto", None, 1)


def test_train_config_rejects_bad_values():
    with pytest.raises(ValidationError):
        TrainConfig(epochs=0)
    with pytest.raises(ValidationError):
        TrainConfig(device="tpu")
    with pytest.raises(ValidationError, match="did you mean 'accuracy'"):
        TrainConfig(metrics=["acuracy"])
    with pytest.raises(ValidationError, match="twice"):
        TrainConfig(metrics=["mae", "mae"])


def test_models_are_frozen():
    with pytest.raises(ValidationError):
        TrainConfig().epochs = 3  # type: ignore[misc]


def test_metric_names_follow_the_task():
    assert metric_names("classification", None) == ("accuracy",)
    assert metric_names("regression", None) == ("mae", "rmse", "r2")
    assert metric_names("binary", ["auroc", "f1"]) == ("auroc", "f1")
    with pytest.raises(ValueError, match="does not apply to a classification task"):
        metric_names("classification", ["r2"])


def test_recipe_fills_in_defaults_per_task():
    recipe = Recipe.from_sections("binary")
    assert recipe.loss == default_loss("binary")
    assert recipe.loss.op == "bce_with_logits" and recipe.optimizer.op == "adam"
    assert Recipe.from_sections("regression").loss.op == "mse"
    schedules = SCHEDULE.validate_python([{"op": "linear_warmup", "epochs": 1}, {"op": "cosine"}])
    assert len(Recipe.from_sections("classification", schedule=schedules).schedule) == 2
    with pytest.raises(ValueError, match="must come first"):
        Recipe(loss=default_loss("binary"), schedule=tuple(reversed(schedules)))


def _walk_properties(schema: dict, defs: dict):
    for name, prop in schema.get("properties", {}).items():
        yield name, prop
    for sub in defs.values():
        for name, prop in sub.get("properties", {}).items():
            yield name, prop


@pytest.mark.parametrize("model", [LossConfig, OptimizerConfig, ScheduleSpec,
                                   RegularizationConfig, TrainConfig])
def test_every_field_is_documented_and_op_is_required(model):
    schema = TypeAdapter(model).json_schema()
    defs = schema.get("$defs", {})
    fields = list(_walk_properties(schema, defs))
    assert fields
    undocumented = [name for name, prop in fields if not prop.get("description")]
    assert undocumented == []
    for sub in defs.values():
        if "op" in sub.get("properties", {}):
            assert "op" in sub["required"]


def test_config_modules_do_not_import_torch():
    code = ("import sys, dlspec.train.recipe.config, dlspec.train.recipe, dlspec.train.recipe.schedules; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)

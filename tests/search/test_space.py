"""The `search:` section as a plan: defaults, dimensions, the grid, Optuna suggestions, and
trial values written back as `--set` overrides that read as the same values."""

from __future__ import annotations

import math
import textwrap
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlspec.api import check
from dlspec.errors import SpecError
from dlspec.search.space import (
    DEFAULT_TRIALS,
    Dimension,
    format_value,
    grid_points,
    grid_space,
    search_plan,
    trial_overrides,
)
from dlspec.spec.load import load_text
from dlspec.spec.yaml_source import read_yaml

MLP = """\
dlspec: 1
name: t
params: {hidden: 16, dropout: 0.1}
inputs: {pixels: {shape: [64]}}
model:
  - {op: linear, name: fc, out_features: "${hidden}"}
  - {op: relu}
  - {op: dropout, p: "${dropout}"}
  - {op: linear, name: logits, out_features: 10}
optimizer: {op: adamw, lr: 0.003}
data: {dataset: digits, split: [0.8, 0.1, 0.1]}
train: {epochs: 2, seed: 7}
"""


def spec(tmp_path: Path, search: str, base: str = MLP) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(base + textwrap.dedent(search))
    return path


def plan_of(tmp_path: Path, search: str, base: str = MLP):
    return search_plan(check(spec(tmp_path, search, base)))


def test_defaults_without_early_stopping(tmp_path):
    plan = plan_of(tmp_path, """\
        search:
          space:
            optimizer.lr: {float: [1.0e-4, 1.0e-1], log: true}
        """)
    assert (plan.metric, plan.direction) == ("val_loss", "minimize")
    assert (plan.trials, plan.timeout) == (DEFAULT_TRIALS, None)
    assert (plan.sampler, plan.seed, plan.pruner) == ("tpe", 7, "none")
    assert plan.dimensions == (Dimension("optimizer.lr", "float", 1e-4, 0.1, True, None),)


def test_metric_and_direction_follow_early_stopping(tmp_path):
    base = MLP + "regularization: {early_stopping: {monitor: val_accuracy}}\n"
    plan = plan_of(tmp_path, """\
        search:
          timeout: 60
          seed: 3
          pruner: hyperband
          sampler: random
          space:
            params.hidden: {choice: [8, 16]}
        """, base)
    assert (plan.metric, plan.direction) == ("val_accuracy", "maximize")
    assert (plan.trials, plan.timeout, plan.seed) == (None, 60.0, 3)  # a timeout, no count
    assert (plan.sampler, plan.pruner) == ("random", "hyperband")
    given = plan_of(tmp_path, """\
        search:
          metric: val_loss
          direction: maximize
          space:
            params.hidden: {choice: [8, 16]}
        """, base)
    assert (given.metric, given.direction) == ("val_loss", "maximize")


def test_the_grid_is_every_combination(tmp_path):
    plan = plan_of(tmp_path, """\
        search:
          sampler: grid
          space:
            optimizer.lr: {float: [1.0e-3, 1.0e-2], step: 3.0e-3}
            params.hidden: {choice: [8, 16]}
            train.epochs: {int: [1, 8], step: 3}
        """)
    assert grid_space(plan) == {"optimizer.lr": [0.001, 0.004, 0.007, 0.01],
                                "params.hidden": [8, 16], "train.epochs": [1, 4, 7]}
    assert plan.trials == 4 * 2 * 3  # the whole grid by default
    points = grid_points(plan)
    assert len(points) == 24 and len({tuple(p.values()) for p in points}) == 24
    assert points[0] == {"optimizer.lr": 0.001, "params.hidden": 8, "train.epochs": 1}


def test_a_huge_range_is_counted_not_listed():
    from dlspec.search.space import grid_size

    dims = (Dimension("a", "int", 0, 2**62, step=2), Dimension("b", "choice", choices=(1, 2)))
    assert grid_size(dims) == (2**61 + 1) * 2
    assert grid_size((*dims, Dimension("c", "float", 0.0, 1.0))) == 0  # continuous
    assert dims[0].top() == 2**62 and Dimension("a", "int", 1, 8, step=3).top() == 7


def test_a_continuous_float_has_no_grid():
    assert Dimension("a", "float", 0.1, 1.0, step=0.2).grid_values() == [0.1, 0.3, 0.5, 0.7,
                                                                        0.9]
    with pytest.raises(ValueError, match="give it a step"):
        Dimension("a", "float", 0.1, 1.0).grid_values()


def test_no_search_section_is_dls701(tmp_path):
    with pytest.raises(SpecError) as caught:
        search_plan(check(spec(tmp_path, "")))
    assert caught.value.codes == ["DLS701"]
    assert "has no `search:` section" in caught.value.diagnostics[0].message


def test_a_malformed_range_stops_the_plan_at_its_place(tmp_path):
    with pytest.raises(SpecError) as caught:
        plan_of(tmp_path, """\
            search:
              space:
                optimizer.lr: {float: [0.0, 1.0e-1], log: true}
            """)
    (diag,) = caught.value.diagnostics
    assert diag.code == "DLS703" and "log scale needs low > 0" in diag.message
    assert (diag.span.line, diag.span.col) == (15, 28)  # the low bound


def test_dimensions_suggest_to_optuna():
    import optuna

    dims = (Dimension("optimizer.lr", "float", 1e-4, 0.1, log=True),
            Dimension("train.epochs", "int", 2, 22, step=3),  # 22 is not reached: 20 is
            Dimension("params.act", "choice", choices=("relu", "gelu", None)))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "the range is not divisible by step"
            lr, epochs, act = (dim.suggest(trial) for dim in dims)
        assert 1e-4 <= lr <= 0.1 and isinstance(lr, float)
        assert type(epochs) is int and epochs in range(2, 21, 3)
        assert act in ("relu", "gelu", None)
        study.tell(trial, lr)
    distributions = study.trials[0].distributions
    assert distributions["optimizer.lr"].log is True
    assert (distributions["train.epochs"].step, distributions["train.epochs"].high) == (3, 20)
    assert list(distributions["params.act"].choices) == ["relu", "gelu", None]


def test_the_grid_sampler_runs_the_grid_once(tmp_path):
    import optuna

    plan = plan_of(tmp_path, """\
        search:
          sampler: grid
          space:
            optimizer.lr: {float: [0.1, 0.3], step: 0.1}
            params.hidden: {choice: [8, 16]}
        """)
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(grid_space(plan), seed=0))
    study.optimize(lambda t: sum(d.suggest(t) for d in plan.dimensions), n_trials=plan.trials)
    seen = sorted(tuple(t.params.values()) for t in study.trials)
    assert seen == sorted(tuple(p.values()) for p in grid_points(plan))  # 6 points, once each
    assert study.best_params == {"optimizer.lr": 0.1, "params.hidden": 8}


def test_trial_overrides_set_the_values_in_the_spec():
    overrides = trial_overrides({"optimizer.lr": 1e-05, "hidden": 64, "train.device": "cpu",
                                 "model.0.bias": False, "params.dropout": 0.5})
    assert overrides == ["optimizer.lr=1e-05", "hidden=64", 'train.device="cpu"',
                         "model.0.bias=false", "params.dropout=0.5"]
    loaded = load_text(MLP, "s.yaml", overrides)
    assert loaded.spec.optimizer.lr == 1e-05 and type(loaded.spec.optimizer.lr) is float
    assert loaded.params == {"hidden": 64, "dropout": 0.5}
    assert loaded.raw["model"][0]["bias"] is False


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(),
                    st.text(st.characters(codec="utf-8")))


@settings(max_examples=300, deadline=None)
@given(scalars)
def test_every_scalar_reads_back_as_itself(value):
    got, _ = read_yaml(format_value(value), "--set")
    assert type(got) is type(value)
    assert got == value or (math.isnan(got) and math.isnan(value))

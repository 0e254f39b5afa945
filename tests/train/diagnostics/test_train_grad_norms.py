"""Gradient norms per layer group: measured, logged, and warned about."""

from __future__ import annotations

import csv
from collections import OrderedDict

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from train_data_fixtures import classification_data

from dlspec.train.diagnostics.grad_norms import NormWatch, group_norms, layer_groups
from dlspec.train.engine.loop import fit
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import SGDConfig, TrainConfig


def block_model() -> nn.Module:
    torch.manual_seed(0)
    block = nn.Sequential(OrderedDict(conv=nn.Linear(2, 8), bn=nn.LayerNorm(8)))
    return nn.Sequential(OrderedDict(stem=block, act=nn.ReLU(), head=nn.Linear(8, 3)))


def test_groups_are_top_level_layers_and_blocks_without_frozen_parameters():
    model = block_model()
    model.head.bias.requires_grad_(False)
    groups = layer_groups(model)
    assert {k: len(v) for k, v in groups.items()} == {"stem": 4, "head": 1}


def test_a_groups_norm_is_the_l2_norm_of_all_its_gradients():
    model = block_model()
    nn.functional.cross_entropy(model(torch.randn(5, 2)), torch.tensor([0, 1, 2, 0, 1])) \
        .backward()
    norms = group_norms(layer_groups(model))
    stem = torch.cat([p.grad.flatten() for p in model.stem.parameters()]).norm()
    head = torch.cat([p.grad.flatten() for p in model.head.parameters()]).norm()
    assert norms["stem"] == pytest.approx(stem.item(), rel=1e-6)
    assert norms["head"] == pytest.approx(head.item(), rel=1e-6)


def test_warnings_come_once_per_group_and_kind():
    watch = NormWatch()
    first = watch.check({"a": 1e-9, "b": 1.0, "c": 5e3}, epoch=1, step=10)
    assert first == [
        "vanishing gradients in 'a': norm 1e-09 at epoch 1, step 10 (check for dead ReLUs, "
        "saturated activations or a missing connection)",
        "exploding gradients in 'c': norm 5e+03 at epoch 1, step 10 (lower the learning rate "
        "or set regularization.grad_clip_norm)"]
    assert watch.check({"a": 0.0, "c": 1e4}, epoch=2, step=20) == []


def test_fit_logs_group_norms_and_warns_about_a_dead_layer(tmp_path):
    model = block_model()
    with torch.no_grad():
        model.stem.bn.bias.fill_(-100.0)  # every ReLU dead: no gradient reaches the stem
    recipe = Recipe.from_sections("classification", optimizer=SGDConfig(lr=0.01),
                                  train=TrainConfig(epochs=2, log_every=7), batch_size=32)
    result = fit(model, classification_data(), recipe, tmp_path, device="cpu", seed=0,
                 metadata={}, quiet=True)
    assert result.warnings == [
        "vanishing gradients in 'stem': norm 0 at epoch 1, step 7 (check for dead ReLUs, "
        "saturated activations or a missing connection)"]
    with open(tmp_path / "grad_norms.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["epoch"], r["step"], r["stem"]) for r in rows] == [("1", "7", "0"),
                                                                  ("2", "14", "0")]
    assert all(float(r["head"]) > 0 for r in rows)
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    head = events.Scalars("grad_norm/head")
    assert [e.step for e in head] == [7, 14]
    assert [e.value for e in head] == pytest.approx([float(r["head"]) for r in rows], rel=1e-5)

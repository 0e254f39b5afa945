"""The training engine runs any objective's updates: each with its own optimizer, at its own
pace, the other models frozen, an EMA copy kept, all of it checkpointed and resumed exactly.
A toy two-model objective drives it: `lead` fits the labels, `follow` fits lead's logits."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from train_data_fixtures import classification_data

from dlspec.train.engine.batch import Tensors
from dlspec.train.engine.interrupt import RunInterrupted
from dlspec.train.engine.loop import fit
from dlspec.train.engine.model_set import ModelSet, state_of
from dlspec.train.engine.setup import FitOptions
from dlspec.train.objectives import OBJECTIVES
from dlspec.train.objectives.base import Objective, ObjectiveConfig, Roles, Update
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import AdamConfig, SGDConfig, TrainConfig
from dlspec.train.run_folder.checkpoint import load_checkpoint

EVERY = 3  # follow's update runs every third step


class ChaseConfig(ObjectiveConfig):
    op: Literal["chase"] = "chase"


class Chase(Objective):
    op, Config = "chase", ChaseConfig
    frozen_seen: list[bool] = []

    @classmethod
    def plan(cls, config, spec) -> Roles:
        return Roles(("lead", "follow"), "lead", reads_loss=False, models=("lead", "follow"))

    @classmethod
    def ema_of(cls, config) -> dict[str, float]:
        return {"follow": 0.9}

    def updates(self) -> tuple[Update, ...]:
        return Update("lead", "lead"), Update("follow", "follow", every=EVERY)

    def losses(self, update: Update, batch: Tensors) -> dict[str, torch.Tensor]:
        lead, follow = self.models["lead"], self.models["follow"]
        x = batch.inputs["x"]
        if update.name == "lead":
            return {"loss": F.cross_entropy(lead(x), batch.y)}
        if torch.is_grad_enabled():  # in the update, not in evaluate
            Chase.frozen_seen.append(any(p.requires_grad for p in lead.parameters()))
        return {"loss": F.mse_loss(follow(x), lead(x))}

    def evaluate(self, data: Tensors, prefix: str, batch_size: int) -> dict[str, float]:
        with torch.no_grad():
            values = {f"{prefix}_loss_{u.name}": float(self.losses(u, data)["loss"])
                      for u in self.updates()}
        return {f"{prefix}_loss": sum(values.values()), **values}


@pytest.fixture(autouse=True)
def chase(monkeypatch):
    monkeypatch.setitem(OBJECTIVES, "chase", Chase)
    Chase.frozen_seen = []


def models() -> ModelSet:
    torch.manual_seed(0)
    return ModelSet({"lead": nn.Linear(2, 3), "follow": nn.Linear(2, 3)})


RECIPE = Recipe(loss=[], objective=ChaseConfig(), batch_size=32,
                optimizer={"lead": AdamConfig(lr=0.05), "follow": SGDConfig(lr=0.2)},
                train=TrainConfig(epochs=4, seed=1, checkpoint_every_steps=4))


def train(run_dir: Path, recipe: Recipe = RECIPE, resume: bool = False,
          model: ModelSet | None = None):
    model = model or models()
    return model, fit(model, classification_data(), recipe, run_dir, device="cpu", seed=1,
                      metadata={}, quiet=True, options=FitOptions(resume=resume))


def test_each_update_steps_its_own_model_at_its_own_pace(tmp_path):
    model, result = train(tmp_path / "run")
    steps = 4 * 7  # 210 train samples in batches of 32
    assert result.history[-1]["step"] == steps
    with open(tmp_path / "run" / "metrics.csv") as handle:
        header = next(csv.reader(handle))
    assert {"train_loss_lead", "train_loss_follow", "val_loss_lead", "val_loss_follow"} \
        <= set(header)
    assert Chase.frozen_seen and not any(Chase.frozen_seen)  # lead frozen in follow's update
    saved = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.safetensors").state_dict
    assert {k.split(".")[0] for k in saved} == {"lead", "follow", "ema"}
    assert int(saved["ema.follow.n_averaged"]) == steps // EVERY  # one average per update
    follow, average = state_of(saved, "follow"), state_of(saved, "follow", ema=True)
    assert not torch.equal(follow["weight"], average["weight"])  # the average lags behind
    assert result.history[-1]["train_loss_lead"] < result.history[0]["train_loss_lead"]


def test_a_follower_that_never_runs_keeps_its_weights(tmp_path):
    rare = Recipe(**{**RECIPE.__dict__, "train": TrainConfig(epochs=1, seed=1)})
    before = models().follow.weight.detach().clone()
    global EVERY
    EVERY, old = 1000, EVERY
    try:
        model, _ = train(tmp_path / "run", rare)
    finally:
        EVERY = old
    assert torch.equal(model.follow.weight.detach(), before)
    assert not torch.equal(model.lead.weight.detach(), models().lead.weight.detach())


def test_an_interrupted_two_model_run_resumes_bit_for_bit(tmp_path, monkeypatch):
    _, whole = train(tmp_path / "whole")
    calls = {"n": 0}
    original = Chase.losses

    def stop_at_step_ten(self, update, batch):
        calls["n"] += update.name == "lead"
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return original(self, update, batch)

    monkeypatch.setattr(Chase, "losses", stop_at_step_ten)
    with pytest.raises(RunInterrupted, match="step 8"):  # the checkpoint before step 10
        train(tmp_path / "cut")
    monkeypatch.setattr(Chase, "losses", original)
    _, resumed = train(tmp_path / "cut", resume=True)
    a = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.safetensors").state_dict
    b = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.safetensors").state_dict
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert whole.history == [{**r, "seconds": w["seconds"]}
                             for r, w in zip(resumed.history, whole.history, strict=True)]

"""Transfer learning: init_from another run's checkpoint (include/exclude/rename), freeze."""

from __future__ import annotations

import io
from collections import OrderedDict

import pytest
import torch
from rich.console import Console
from torch import nn
from train_data_fixtures import classification_data

from dlspec.errors import TrainError
from dlspec.train.engine.loop import fit
from dlspec.train.engine.setup import FitOptions
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import AdamWConfig, InitFromConfig, TrainConfig
from dlspec.train.run_folder.checkpoint import load_checkpoint
from dlspec.train.run_folder.transfer import freeze, init_from


def net(seed: int, **layers: nn.Module) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict(layers))


def source_model() -> nn.Module:
    return net(1, fc=nn.Linear(2, 16), act=nn.ReLU(), extra=nn.Linear(16, 16),
               out=nn.Linear(16, 3))


def target_model(classes: int = 3) -> nn.Module:
    return net(2, encoder=nn.Linear(2, 16), act=nn.ReLU(), hidden=nn.Linear(16, 16),
               head=nn.Linear(16, classes))


def train(model, run_dir, console=None, **train_options):
    recipe = Recipe.from_sections("classification", optimizer=AdamWConfig(lr=0.01),
                                  train=TrainConfig(epochs=2, **train_options))
    return fit(model, classification_data(), recipe, run_dir, device="cpu", seed=0,
               metadata={}, console=console, quiet=console is None,
               options=FitOptions(base_dir=run_dir.parent))


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "source"
    train(source_model(), folder)
    return folder


CONFIG = InitFromConfig(path="source", rename={"fc.": "encoder.", "out.": "head."},
                        exclude=["head.bias"])


def test_init_from_reports_and_loads_the_selected_keys(source_run):
    model = target_model()
    report = init_from(model, CONFIG, source_run.parent)
    assert report.path == source_run / "checkpoints" / "best.safetensors"
    assert report.loaded == ["encoder.weight", "encoder.bias", "head.weight"]
    assert report.missing == ["hidden.weight", "hidden.bias"]
    assert report.unexpected == ["extra.bias", "extra.weight"]
    assert report.not_selected == ["head.bias"]
    stored = load_checkpoint(report.path).state_dict
    assert torch.equal(model.encoder.weight, stored["fc.weight"])
    assert torch.equal(model.head.weight, stored["out.weight"])
    assert not torch.equal(model.head.bias, stored["out.bias"])
    assert report.lines()[0] == ("init_from " + str(report.path) + ": 3 loaded, 2 missing, "
                                 "2 unexpected, 1 not selected")


def test_a_shape_mismatch_names_the_key_and_both_shapes(source_run):
    with pytest.raises(TrainError, match=r"init_from: 'head.weight' has shape \(3, 16\) in .*"
                                         r"best.safetensors but \(4, 16\) in the model") as e:
        init_from(target_model(classes=4), CONFIG, source_run.parent)
    assert e.value.codes == ["DLS404"]


def test_frozen_weights_do_not_move_and_the_rest_trains(source_run):
    model = target_model()
    console = io.StringIO()
    train(model, source_run.parent / "target", Console(file=console, width=200),
          init_from=CONFIG, freeze=["encoder"])
    stored = load_checkpoint(source_run / "checkpoints" / "best.safetensors").state_dict
    assert torch.equal(model.encoder.weight, stored["fc.weight"])  # bitwise, despite AdamW
    assert torch.equal(model.encoder.bias, stored["fc.bias"])
    assert not torch.equal(model.head.weight, stored["out.weight"])
    assert all(p.requires_grad for n, p in model.named_parameters()
               if not n.startswith("encoder"))
    lines = console.getvalue().splitlines()
    assert lines[0].endswith(": 3 loaded, 2 missing, 2 unexpected, 1 not selected")
    assert "  loaded: encoder.weight, encoder.bias, head.weight" in lines
    assert "frozen: encoder.weight, encoder.bias" in lines


def test_a_freeze_pattern_that_matches_nothing_suggests_a_name():
    with pytest.raises(TrainError, match=r"train.freeze pattern 'encodr' matches no parameter"
                                         r"(.|\n)*did you mean 'encoder'") as error:
        freeze(target_model(), ["encodr"])
    assert error.value.codes == ["DLS102"]

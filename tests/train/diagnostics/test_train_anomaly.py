"""--detect-anomaly names the op that first produced NaN/inf, and where it ran."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn
from train_data_fixtures import classification_data, mlp

from dlspec.data.types import PreparedData, Split
from dlspec.errors import TrainError
from dlspec.train.diagnostics.anomaly import (
    NonFiniteOpDetector,
    NonFiniteOpFound,
    checks_output,
    detect_anomalies,
)
from dlspec.train.engine.loop import fit
from dlspec.train.engine.setup import FitOptions
from dlspec.train.recipe import Recipe

# anomaly mode prints the forward trace of the op that failed, as a warning: expected here
pytestmark = pytest.mark.filterwarnings("ignore:Error detected in:UserWarning")


class Log(nn.Module):
    def forward(self, x):
        return torch.log(x)


def train(model, data, tmp_path, detect=True):
    recipe = Recipe.from_sections("classification", batch_size=32)
    return fit(model, data, recipe, tmp_path, device="cpu", seed=0, metadata={}, quiet=True,
               options=FitOptions(detect_anomaly=detect))


def test_the_log_of_a_negative_is_named_with_its_layer(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(fc=nn.Linear(2, 3), log=Log()))  # fc gives negatives
    with pytest.raises(TrainError, match=r"op log produced nan from finite inputs in layer "
                                         r"'log' \(forward pass\) at epoch 1, step 1") as error:
        train(model, classification_data(), tmp_path)
    assert error.value.codes == ["DLS403"] and "log/sqrt of negatives" in str(error.value)


def test_without_detection_the_same_model_is_stopped_by_the_guard(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(fc=nn.Linear(2, 3), log=Log()))
    with pytest.raises(TrainError, match="stayed non-finite for 5 steps in a row"):
        train(model, classification_data(), tmp_path, detect=False)


def test_nan_from_the_data_is_reported_by_autograd_anomaly_mode(tmp_path):
    data = classification_data()
    x = data.train.inputs["x"].copy()
    x[::10, 0] = np.nan
    bad = PreparedData(Split({"x": x}, data.train.y), data.val, data.test, data.task,
                       data.feature_names, data.class_names)
    with pytest.raises(TrainError, match=r"autograd function \w+Backward0 returned NaN in its "
                                         r"output \d+ at epoch 1, step 1") as error:
        train(mlp(), bad, tmp_path)
    assert "the train data holds NaN or inf values" in str(error.value)


def test_the_detector_looks_at_backward_ops_and_leaves_hooks_behind_it():
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(NonFiniteOpFound, match=r"op \w+ produced inf from finite inputs in the "
                                               r"backward pass \(SqrtBackward0\)"), \
            NonFiniteOpDetector():
        torch.sqrt(x).sum().backward()  # d sqrt(x)/dx at 0 is inf
    model = mlp()
    with detect_anomalies(model) as detector:
        with detector:
            model(torch.ones(1, 2))
        assert detector.layers == []
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_ops_that_leave_their_output_unwritten_are_not_checked():
    """empty_like (dropout allocates its mask with it) returns whatever the memory held, NaN
    bits included; only the op that fills it is checked."""
    aten = torch.ops.aten
    assert not checks_output(aten.empty_like.default)
    assert not checks_output(aten.empty.memory_format)
    assert checks_output(aten.addmm.default) and checks_output(aten.bernoulli_.float)

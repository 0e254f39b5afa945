"""Metric values against hand computation, and the evaluation pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dlspec.train.metrics import build_metrics, evaluate


class Fixed(nn.Module):
    """Returns preset outputs for the sample indices it is given as inputs."""

    def __init__(self, outputs: torch.Tensor):
        super().__init__()
        self.outputs = outputs

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.outputs[index.long().reshape(-1)]


def run(task, names, outputs, targets, num_classes=0, batch_size=1024):
    model = Fixed(outputs)
    x = torch.arange(len(targets))
    loss = {"classification": nn.CrossEntropyLoss(), "binary": nn.BCEWithLogitsLoss(),
            "regression": nn.MSELoss()}[task]
    metrics = build_metrics(task, names, num_classes, "cpu")
    return evaluate(model, x, targets, loss, metrics, task, "val", batch_size)


def test_multiclass_accuracy_f1_and_the_loss():
    logits = torch.tensor([[3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0], [3.0, 0, 0], [0, 3.0, 0]])
    targets = torch.tensor([0, 1, 1, 0, 2])  # predictions 0 1 2 0 1: 3 of 5 right
    values = run("classification", ("accuracy", "f1"), logits, targets, 3)
    assert values["val_accuracy"] == pytest.approx(0.6)
    # per class F1: class0 1.0, class1 p=1/2 r=1/2 -> 0.5, class2 p=0 r=0 -> 0
    assert values["val_f1"] == pytest.approx(0.5)
    assert values["val_loss"] == pytest.approx(nn.functional.cross_entropy(logits, targets).item())


def test_binary_accuracy_uses_the_sigmoid_of_the_logits():
    logits = torch.tensor([[2.0], [-1.0], [0.5], [-3.0]])  # p > 0.5 for rows 0 and 2
    targets = torch.tensor([[1.0], [1.0], [0.0], [0.0]])
    values = run("binary", ("accuracy", "auroc"), logits, targets)
    assert values["val_accuracy"] == pytest.approx(0.5)
    # positives score 2.0 and -1.0, negatives 0.5 and -3.0: 3 of 4 pairs ordered right
    assert values["val_auroc"] == pytest.approx(0.75)


@pytest.mark.parametrize("batch_size", [2, 1024])
def test_regression_metrics_match_numpy(batch_size):
    rng = np.random.default_rng(1)
    target = rng.standard_normal((7, 1)).astype(np.float32)
    pred = target + 0.3 * rng.standard_normal((7, 1)).astype(np.float32)
    values = run("regression", ("mae", "rmse", "r2", "mse"), torch.from_numpy(pred),
                 torch.from_numpy(target), batch_size=batch_size)
    error = pred - target
    r2 = 1 - (error ** 2).sum() / ((target - target.mean()) ** 2).sum()
    assert values["val_mae"] == pytest.approx(np.abs(error).mean(), rel=1e-5)
    assert values["val_mse"] == pytest.approx((error ** 2).mean(), rel=1e-5)
    assert values["val_rmse"] == pytest.approx(np.sqrt((error ** 2).mean()), rel=1e-5)
    assert values["val_r2"] == pytest.approx(r2, rel=1e-5)
    assert values["val_loss"] == pytest.approx((error ** 2).mean(), rel=1e-5)


def test_regression_with_several_outputs_averages_r2():
    target = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    pred = target.clone()
    pred[:, 1] = 25.0  # the second output predicts its mean: r2 0
    values = run("regression", ("r2",), pred, target)
    assert values["val_r2"] == pytest.approx(0.5)


def test_metrics_reset_between_evaluations():
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    first = run("classification", ("accuracy",), logits, torch.tensor([0, 1]), 2)
    assert first["val_accuracy"] == 1.0
    model, metrics = Fixed(logits), build_metrics("classification", ("accuracy",), 2, "cpu")
    x, loss = torch.arange(2), nn.CrossEntropyLoss()
    evaluate(model, x, torch.tensor([0, 1]), loss, metrics, "classification", "val")
    again = evaluate(model, x, torch.tensor([1, 0]), loss, metrics, "classification", "val")
    assert again["val_accuracy"] == 0.0

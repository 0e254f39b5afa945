"""Metric values against scikit-learn or the formula on fixed numbers, and the evaluation pass."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn import metrics as sk
from torch import nn
from torch.nn import functional as F

from dlspec.data.types import PreparedData, Split
from dlspec.train.engine.batch import Tensors
from dlspec.train.recipe import default_loss
from dlspec.train.recipe.losses import build_loss
from dlspec.train.scoring.metrics import (
    build_metrics,
    confusion_matrix,
    evaluate,
    save_confusion_matrix,
)


class Fixed(nn.Module):
    """Returns preset outputs for the sample indices it is given as inputs."""

    def __init__(self, outputs: torch.Tensor):
        super().__init__()
        self.outputs = outputs

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.outputs[index.long().reshape(-1)]


LOSSES = {task: build_loss(default_loss(task), task) for task in
          ("classification", "binary", "multilabel", "regression", "tagging", "language_model")}


def run(task, names, outputs, targets, num_classes=0, batch_size=1024):
    model = Fixed(outputs)
    x = torch.arange(len(targets))
    metrics = build_metrics(task, names, num_classes, "cpu")
    return evaluate(model, Tensors({"x": x}, targets), LOSSES[task], metrics, task, "val",
                    batch_size=batch_size)


def seeded(*shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype("f4"))


def test_multiclass_accuracy_f1_and_the_loss():
    logits = torch.tensor([[3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0], [3.0, 0, 0], [0, 3.0, 0]])
    targets = torch.tensor([0, 1, 1, 0, 2])  # predictions 0 1 2 0 1: 3 of 5 right
    values = run("classification", ("accuracy", "f1"), logits, targets, 3)
    assert values["val_accuracy"] == pytest.approx(0.6)
    # per class F1: class0 1.0, class1 p=1/2 r=1/2 -> 0.5, class2 p=0 r=0 -> 0
    assert values["val_f1"] == pytest.approx(0.5)
    assert values["val_loss"] == pytest.approx(nn.functional.cross_entropy(logits, targets).item())


@pytest.mark.parametrize("batch_size", [7, 1024])
def test_multiclass_metrics_match_sklearn(batch_size):
    logits = seeded(60, 4)
    targets = torch.from_numpy(np.random.default_rng(1).integers(0, 4, 60))
    values = run("classification", ("accuracy", "f1", "precision", "recall", "auroc"),
                 logits, targets, 4, batch_size)
    y, predicted = targets.numpy(), logits.argmax(1).numpy()
    assert values["val_accuracy"] == pytest.approx(sk.accuracy_score(y, predicted))
    for name, score in (("f1", sk.f1_score), ("precision", sk.precision_score),
                        ("recall", sk.recall_score)):
        assert values[f"val_{name}"] == pytest.approx(score(y, predicted, average="macro"))
    auroc = sk.roc_auc_score(y, logits.softmax(1).numpy(), multi_class="ovr", average="macro")
    assert values["val_auroc"] == pytest.approx(auroc, abs=1e-6)


def test_binary_accuracy_uses_the_sigmoid_of_the_logits():
    logits = torch.tensor([[2.0], [-1.0], [0.5], [-3.0]])  # p > 0.5 for rows 0 and 2
    targets = torch.tensor([[1.0], [1.0], [0.0], [0.0]])
    values = run("binary", ("accuracy", "auroc"), logits, targets)
    assert values["val_accuracy"] == pytest.approx(0.5)
    # positives score 2.0 and -1.0, negatives 0.5 and -3.0: 3 of 4 pairs ordered right
    assert values["val_auroc"] == pytest.approx(0.75)


def test_binary_metrics_match_sklearn():
    logits = seeded(50, 1)
    targets = torch.from_numpy(np.random.default_rng(2).integers(0, 2, (50, 1)).astype("f4"))
    values = run("binary", ("f1", "precision", "recall", "auroc"), logits, targets)
    y, predicted = targets.numpy().ravel(), (logits.numpy().ravel() > 0).astype(int)
    assert values["val_f1"] == pytest.approx(sk.f1_score(y, predicted))
    assert values["val_precision"] == pytest.approx(sk.precision_score(y, predicted))
    assert values["val_recall"] == pytest.approx(sk.recall_score(y, predicted))
    assert values["val_auroc"] == pytest.approx(sk.roc_auc_score(y, logits.numpy().ravel()))


def test_multilabel_metrics_match_sklearn():
    logits = seeded(40, 3)
    targets = torch.from_numpy(np.random.default_rng(3).integers(0, 2, (40, 3)).astype("f4"))
    values = run("multilabel", ("accuracy", "f1", "precision", "recall", "auroc"), logits,
                 targets, 3, batch_size=16)
    y, predicted = targets.numpy().astype(int), (logits.numpy() > 0).astype(int)
    assert values["val_accuracy"] == pytest.approx((y == predicted).mean())  # every decision
    assert values["val_f1"] == pytest.approx(sk.f1_score(y, predicted, average="macro"))
    assert values["val_precision"] == pytest.approx(
        sk.precision_score(y, predicted, average="macro"))
    assert values["val_recall"] == pytest.approx(sk.recall_score(y, predicted, average="macro"))
    assert values["val_auroc"] == pytest.approx(
        sk.roc_auc_score(y, logits.numpy(), average="macro"), abs=1e-6)
    loss = F.binary_cross_entropy_with_logits(logits, targets).item()
    assert values["val_loss"] == pytest.approx(loss, rel=1e-5)


def tokens(seed=4, n=6, length=5, classes=7):
    """Per-token logits and targets with the tail of each sequence padded (-100)."""
    logits = seeded(n, length, classes, seed=seed)
    targets = torch.from_numpy(np.random.default_rng(seed).integers(1, classes, (n, length)))
    lengths = torch.tensor([5, 3, 4, 2, 5, 1])[:n]
    targets[torch.arange(length) >= lengths[:, None]] = -100
    return logits, targets


@pytest.mark.parametrize("batch_size", [4, 1024])
def test_tagging_metrics_skip_padding(batch_size):
    logits, targets = tokens()
    values = run("tagging", ("accuracy", "f1", "precision", "recall", "perplexity"), logits,
                 targets, 7, batch_size)
    real = targets != -100
    y, predicted = targets[real].numpy(), logits.argmax(-1)[real].numpy()
    assert values["val_accuracy"] == pytest.approx((y == predicted).mean())
    for name, score in (("f1", sk.f1_score), ("precision", sk.precision_score),
                        ("recall", sk.recall_score)):  # a class never true or never predicted
        assert values[f"val_{name}"] == pytest.approx(  # counts 0, as torchmetrics does
            score(y, predicted, average="macro", zero_division=0))
    mean_nll = F.cross_entropy(logits[real], targets[real])  # over the real tokens only
    assert values["val_perplexity"] == pytest.approx(float(mean_nll.exp()), rel=1e-5)


def test_language_model_perplexity_is_the_exp_of_the_token_cross_entropy():
    logits = seeded(8, 10, 30, seed=5) * 3
    targets = torch.from_numpy(np.random.default_rng(5).integers(0, 30, (8, 10)))
    values = run("language_model", ("perplexity", "accuracy"), logits, targets, 30, 3)
    assert values["val_perplexity"] == pytest.approx(
        float(F.cross_entropy(logits.reshape(-1, 30), targets.reshape(-1)).exp()), rel=1e-5)
    assert values["val_accuracy"] == pytest.approx(
        float((logits.argmax(-1) == targets).float().mean()))
    assert values["val_loss"] == pytest.approx(
        float(F.cross_entropy(logits.movedim(-1, 1), targets)), rel=1e-5)


def test_a_perfect_model_has_perplexity_one():
    targets = torch.tensor([[1, 2, 0], [2, 1, 1]])
    logits = 50 * F.one_hot(targets, 3).float()
    assert run("language_model", ("perplexity",), logits, targets, 3)["val_perplexity"] == \
        pytest.approx(1.0)


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
    x, loss = torch.arange(2), LOSSES["classification"]
    evaluate(model, Tensors({"x": x}, torch.tensor([0, 1])), loss, metrics, "classification",
             "val")
    again = evaluate(model, Tensors({"x": x}, torch.tensor([1, 0])), loss, metrics,
                     "classification", "val")
    assert again["val_accuracy"] == 0.0


@pytest.mark.parametrize("task, logits, targets, expected", [
    ("classification", seeded(30, 3), torch.arange(30) % 3,
     lambda lo, t: sk.confusion_matrix(t, lo.argmax(1), labels=[0, 1, 2])),
    ("binary", seeded(30, 1), (torch.arange(30) % 2).float()[:, None],
     lambda lo, t: sk.confusion_matrix(t.ravel(), (lo.ravel() > 0).long())),
    ("multilabel", seeded(30, 2), (torch.arange(60).reshape(30, 2) % 3 == 0).float(),
     lambda lo, t: sk.multilabel_confusion_matrix(t, (lo > 0).long())),
])
def test_confusion_matrices_match_sklearn(task, logits, targets, expected):
    classes = logits.shape[1] if task != "binary" else 2
    matrix = confusion_matrix(Fixed(logits), Tensors({"x": torch.arange(30)}, targets), task,
                              classes, batch_size=8)
    assert np.array_equal(np.array(matrix), expected(logits, targets))


def test_confusion_matrix_is_written_when_asked_for(tmp_path):
    logits = torch.tensor([[2.0, 0], [0, 2.0], [2.0, 0]])
    y = torch.tensor([0, 1, 1])
    split = Split({"x": np.zeros((3, 1), np.float32)}, y.numpy())
    data = PreparedData(split, split, split, "classification", ["f"], ["cat", "dog"])
    tensors = Tensors({"x": torch.arange(3)}, y)
    assert save_confusion_matrix(tmp_path, Fixed(logits), tensors, data, ["accuracy"]) is None
    path = save_confusion_matrix(tmp_path, Fixed(logits), tensors, data, ["confusion_matrix"])
    saved = json.loads(path.read_text())
    assert saved["classes"] == ["cat", "dog"] and saved["matrix"] == [[1, 0], [1, 1]]


def test_the_matrix_is_not_an_epoch_metric():
    metrics = build_metrics("classification", ("accuracy", "confusion_matrix"), 3, "cpu")
    assert list(metrics) == ["accuracy"]

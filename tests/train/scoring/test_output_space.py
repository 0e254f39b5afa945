"""Every loss/task pairing: the metrics and the prediction table read the model's output in the
space its loss declares, so they equal the numbers recomputed by hand from what the model
means (a sigmoid model's own output is its probability, never passed through a second
sigmoid)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.special import expit, log_softmax, softmax
from sklearn import metrics as sk
from torch import nn

from dlspec.backends.onnx_tables import prediction_table
from dlspec.data.tasks import PAD_TARGET
from dlspec.train.engine.batch import Tensors
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.loss_config import (
    BCEConfig,
    BCEWithLogitsConfig,
    CrossEntropyConfig,
    FocalConfig,
    HuberConfig,
    KLDivConfig,
    MAEConfig,
    MSEConfig,
    NLLConfig,
    SmoothL1Config,
)
from dlspec.train.recipe.losses import build_loss
from dlspec.train.scoring.metrics import build_metrics, evaluate
from dlspec.train.scoring.output_space import readout, space_conflict
from dlspec.train.scoring.outputs import ModelOutputs

N, T, C, LABELS = 40, 5, 4, 3
RNG = np.random.default_rng(0)
RAW = {  # the model's scores before its last layer, per task
    "binary": RNG.normal(size=(N, 1)) * 2,
    "multilabel": RNG.normal(size=(N, LABELS)) * 2,
    "classification": RNG.normal(size=(N, C)) * 2,
    "tagging": RNG.normal(size=(N, T, C)) * 2,
    "language_model": RNG.normal(size=(N, T, C)) * 2,
    "regression": RNG.normal(size=(N, 2)),
}
# What the model means by those scores: label or class probabilities, or values.
MEANS = {"binary": expit, "multilabel": expit, "classification": lambda r: softmax(r, -1),
         "tagging": lambda r: softmax(r, -1), "language_model": lambda r: softmax(r, -1),
         "regression": lambda r: r}
HEADS = {  # the model's last layer, which puts its output in a space
    "identity": lambda r: r, "sigmoid": expit, "log_softmax": lambda r: log_softmax(r, -1)}


def targets(task: str) -> torch.Tensor:
    rng = np.random.default_rng(1)
    if task in ("binary", "multilabel"):
        return torch.from_numpy((rng.random(RAW[task].shape) < 0.5).astype("f4"))
    if task == "classification":
        return torch.from_numpy(rng.integers(0, C, N))
    if task in ("tagging", "language_model"):
        y = rng.integers(0, C, (N, T))
        y[::3, -2:] = PAD_TARGET  # padded positions are skipped
        return torch.from_numpy(y)
    return torch.from_numpy(rng.normal(size=(N, 2)).astype("f4"))


# (loss, task, the model's last layer, the space the loss declares)
PAIRINGS = [
    (BCEConfig(), "binary", "sigmoid", "probabilities"),
    (BCEWithLogitsConfig(), "binary", "identity", "logits"),
    (FocalConfig(), "binary", "identity", "logits"),
    (BCEConfig(), "multilabel", "sigmoid", "probabilities"),
    (BCEWithLogitsConfig(), "multilabel", "identity", "logits"),
    (FocalConfig(), "multilabel", "identity", "logits"),
    *[(loss, task, head, space) for task in ("classification", "tagging", "language_model")
      for loss, head, space in ((CrossEntropyConfig(), "identity", "logits"),
                                (CrossEntropyConfig(), "log_softmax", "logits"),
                                (NLLConfig(), "log_softmax", "log_probabilities"),
                                (FocalConfig(), "identity", "logits"))],
    *[(loss, "regression", "identity", "values") for loss in
      (MSEConfig(), MAEConfig(), MAEConfig(op="l1"), HuberConfig(), SmoothL1Config())],
]
METRICS = {"binary": ("accuracy", "f1", "auroc"), "multilabel": ("accuracy", "f1"),
           "classification": ("accuracy", "f1", "auroc"),
           "tagging": ("accuracy", "perplexity"), "language_model": ("accuracy", "perplexity"),
           "regression": ("mse", "mae")}


def expected_metrics(task: str, means: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The metrics recomputed by hand (scikit-learn) from what the model means."""
    if task in ("binary", "multilabel"):
        decided = (means > 0.5).astype(int)
        values = {"accuracy": float((decided == y).mean()),
                  "f1": sk.f1_score(y.ravel(), decided.ravel()) if task == "binary"
                  else sk.f1_score(y, decided, average="macro")}
        if task == "binary":
            values["auroc"] = sk.roc_auc_score(y.ravel(), means.ravel())
        return values
    if task == "classification":
        return {"accuracy": sk.accuracy_score(y, means.argmax(1)),
                "f1": sk.f1_score(y, means.argmax(1), average="macro"),
                "auroc": sk.roc_auc_score(y, means, multi_class="ovr", average="macro")}
    if task == "regression":
        return {"mse": float(((means - y) ** 2).mean()), "mae": float(abs(means - y).mean())}
    keep = y != PAD_TARGET
    scored, truth = means[keep], y[keep]
    return {"accuracy": float((scored.argmax(-1) == truth).mean()),
            "perplexity": float(np.exp(-np.log(scored[np.arange(len(truth)), truth]).mean()))}


class Known(nn.Module):
    """A model with known outputs: the head of `raw` for the sample indices it is given."""

    def __init__(self, outputs: np.ndarray):
        super().__init__()
        self.outputs = torch.from_numpy(outputs.astype("f4"))

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.outputs[index.long()]


def measured(loss, task: str, output: np.ndarray, y: torch.Tensor) -> dict[str, float]:
    outputs = ModelOutputs.of(Recipe(loss=loss))
    classes = 0 if task in ("binary", "regression") else output.shape[-1]
    metrics = build_metrics(task, METRICS[task], classes, "cpu")
    values = evaluate(Known(output), Tensors({"x": torch.arange(N)}, y),
                      build_loss(loss, task, classes),
                      metrics, task, "val", outputs, batch_size=16)
    return {name: values[f"val_{name}"] for name in METRICS[task]}


def predicted(loss, task: str, output: np.ndarray) -> np.ndarray:
    """The probability (or value) columns of the prediction table of `output`, as
    `dlspec predict` writes them from the metadata that training records."""
    metadata = {"task": task, **ModelOutputs.of(Recipe(loss=loss, outputs=("out",))).metadata()}
    if task == "binary":
        metadata["class_names"] = json.dumps(["no", "yes"])
    columns, rows = prediction_table(["out"], [output.astype("f4")], metadata)
    table = np.array([[float(v) for v in row[1:]] if task in ("binary", "classification")
                      else list(row) for row in rows], dtype=np.float64)
    return table[:, 1:] if task == "binary" else table  # binary: p_yes


@pytest.mark.parametrize("loss, task, head, space", PAIRINGS,
                         ids=[f"{p[0].op}-{p[1]}-{p[2]}" for p in PAIRINGS])
def test_metrics_and_predictions_read_the_output_in_its_space(loss, task, head, space):
    assert loss.output_space == space
    assert space_conflict(loss.op, loss.reads, "out", head, task) is None  # validate agrees
    output = HEADS[head](RAW[task])
    means = MEANS[task](RAW[task])
    y = targets(task)
    expected = expected_metrics(task, means, y.numpy())
    assert measured(loss, task, output, y) == pytest.approx(expected, rel=1e-4, abs=1e-5)
    np.testing.assert_allclose(predicted(loss, task, output), means.reshape(N, -1),
                               rtol=1e-5, atol=1e-6)


def test_bce_on_a_sigmoid_model_thresholds_its_own_output():
    """The reported case: accuracy is the model's output thresholded at 0.5, not the
    positive rate that a second sigmoid gives (every sigmoid output is > 0.5 after one)."""
    output, y = expit(RAW["binary"]), targets("binary")
    accuracy = measured(BCEConfig(), "binary", output, y)["accuracy"]
    assert accuracy == pytest.approx(((output > 0.5) == y.numpy()).mean())
    assert accuracy != pytest.approx(y.numpy().mean())


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_predicts_the_distribution_in_the_targets_units(log_target):
    """kl_div reads log-probabilities: against target probabilities the model predicts
    exp(output); against log-probability targets, the output itself."""
    loss, raw = KLDivConfig(log_target=log_target), RAW["classification"]
    output = log_softmax(raw, -1)
    means = output if log_target else softmax(raw, -1)
    goal = softmax(np.random.default_rng(2).normal(size=raw.shape), -1)
    y = torch.from_numpy((np.log(goal) if log_target else goal).astype("f4"))
    got = measured(loss, "regression", output, y)
    assert got == pytest.approx(expected_metrics("regression", means, y.numpy()), rel=1e-4)
    np.testing.assert_allclose(predicted(loss, "regression", output), means, rtol=1e-5)


@pytest.mark.parametrize("space, task, how", [
    ("logits", "binary", "sigmoid"), ("logits", "multilabel", "sigmoid"),
    ("logits", "classification", "softmax"), ("logits", "tagging", "softmax"),
    ("probabilities", "binary", "clip"), ("probabilities", "classification", "clip"),
    ("log_probabilities", "classification", "softmax"),
    ("log_probabilities", "binary", "exp"), ("log_probabilities", "regression", "exp"),
    ("values", "regression", "identity"), ("logits", "regression", "identity"),
])
def test_readout_per_space_and_task(space, task, how):
    assert readout(space, task) == how

"""Each loss against torch.nn.functional and against the formula on known tensors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dlspec.errors import TrainError
from dlspec.train.config import BCEWithLogitsConfig, CrossEntropyConfig, MAEConfig, MSEConfig
from dlspec.train.losses import build_loss

LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [1.0, 1.0, 1.0], [-2.0, 4.0, 0.0]])
CLASSES = torch.tensor([0, 2, 1, 1])


def test_plain_cross_entropy_is_the_mean_negative_log_softmax():
    loss = build_loss(CrossEntropyConfig(), "classification", 3)(LOGITS, CLASSES)
    by_hand = -torch.log_softmax(LOGITS, dim=1)[torch.arange(4), CLASSES].mean()
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)
    # the third row has equal logits: its loss alone is log(3)
    assert build_loss(CrossEntropyConfig(), "classification", 3)(
        LOGITS[2:3], CLASSES[2:3]).item() == pytest.approx(math.log(3), rel=1e-6)


def test_label_smoothing_mixes_in_a_uniform_target():
    eps = 0.1
    loss = build_loss(CrossEntropyConfig(label_smoothing=eps), "classification", 3)(
        LOGITS, CLASSES)
    log_probs = torch.log_softmax(LOGITS, dim=1)
    target = torch.full((4, 3), eps / 3)
    target[torch.arange(4), CLASSES] += 1 - eps
    by_hand = -(target * log_probs).sum(dim=1).mean()
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert loss.item() == pytest.approx(
        F.cross_entropy(LOGITS, CLASSES, label_smoothing=eps).item(), rel=1e-6)


def test_class_weights_give_a_weighted_mean():
    weights = [1.0, 3.0, 0.5]
    loss = build_loss(CrossEntropyConfig(class_weights=weights), "classification", 3)(
        LOGITS, CLASSES)
    w = torch.tensor(weights)[CLASSES]
    nll = -torch.log_softmax(LOGITS, dim=1)[torch.arange(4), CLASSES]
    assert loss.item() == pytest.approx(((w * nll).sum() / w.sum()).item(), rel=1e-6)
    assert loss.item() == pytest.approx(
        F.cross_entropy(LOGITS, CLASSES, weight=torch.tensor(weights)).item(), rel=1e-6)


def test_class_weights_must_match_the_classes():
    with pytest.raises(TrainError, match="class_weights has 2 weights but the data has 3") as e:
        build_loss(CrossEntropyConfig(class_weights=[1.0, 2.0]), "classification", 3)
    assert e.value.codes == ["DLS402"]


def test_bce_with_logits_and_pos_weight():
    logits = torch.tensor([[1.5], [-0.5], [0.0], [3.0]])
    targets = torch.tensor([[1.0], [0.0], [1.0], [0.0]])
    plain = build_loss(BCEWithLogitsConfig(), "binary")(logits, targets)
    p = torch.sigmoid(logits)
    by_hand = -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()
    assert plain.item() == pytest.approx(by_hand.item(), rel=1e-5)
    weighted = build_loss(BCEWithLogitsConfig(pos_weight=4.0), "binary")(logits, targets)
    by_hand = -(4.0 * targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()
    assert weighted.item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert weighted.item() == pytest.approx(F.binary_cross_entropy_with_logits(
        logits, targets, pos_weight=torch.tensor([4.0])).item(), rel=1e-6)


def test_regression_losses():
    pred = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    target = torch.tensor([[0.0, 2.0], [1.0, 1.0]])
    # errors 1, 0, 2, -2: squared mean 9/4, absolute mean 5/4
    assert build_loss(MSEConfig(), "regression")(pred, target).item() == pytest.approx(2.25)
    assert build_loss(MAEConfig(), "regression")(pred, target).item() == pytest.approx(1.25)


@pytest.mark.parametrize(("config", "task"), [
    (MSEConfig(), "classification"), (CrossEntropyConfig(), "regression"),
    (BCEWithLogitsConfig(), "classification"), (MAEConfig(), "binary"),
])
def test_a_loss_for_another_task_is_a_clear_error(config, task):
    with pytest.raises(TrainError, match=f"is for .* targets, but the data is a {task} task"):
        build_loss(config, task, 3)

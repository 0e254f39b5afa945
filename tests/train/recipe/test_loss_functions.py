"""The losses torch lacks (focal, NT-Xent, Gaussian KL) against their formulas written out."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dlspec.errors import TrainError
from dlspec.train.recipe.loss_config import FocalConfig, GaussianKLConfig, InfoNCEConfig
from dlspec.train.recipe.loss_functions import (
    batch_hard_pairs,
    batch_hard_triplet,
    binary_focal,
    focal,
    gaussian_kl,
    info_nce,
    pairwise_distances,
    reduce,
)
from dlspec.train.recipe.losses import build_loss

LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [1.0, 1.0, 1.0], [-2.0, 4.0, 0.0]])
CLASSES = torch.tensor([0, 2, 1, 1])


def test_reduce_mean_and_batchmean():
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert reduce(values, "mean").item() == pytest.approx(3.5)
    assert reduce(values, "batchmean").item() == pytest.approx(10.5)


def test_binary_focal_loss_by_hand():
    logits = torch.tensor([[2.0], [-1.0], [0.5]])
    targets = torch.tensor([[1.0], [1.0], [0.0]])
    expected = []
    for x, t in zip(logits.flatten().tolist(), targets.flatten().tolist(), strict=True):
        p = 1 / (1 + math.exp(-x))
        p_t = p if t == 1 else 1 - p
        alpha_t = 0.25 if t == 1 else 0.75
        expected.append(-alpha_t * (1 - p_t) ** 2 * math.log(p_t))
    loss = binary_focal(logits, targets, gamma=2.0, alpha=0.25)
    assert loss.item() == pytest.approx(sum(expected) / 3, rel=1e-5)
    # gamma 0 and no alpha: plain binary cross-entropy
    assert binary_focal(logits, targets, gamma=0.0, alpha=None).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, targets).item(), rel=1e-6)


def test_multiclass_focal_loss_by_hand():
    p = torch.softmax(LOGITS, dim=1)[torch.arange(4), CLASSES]
    by_hand = (-(1 - p) ** 1.5 * torch.log(p)).mean()
    assert focal(LOGITS, CLASSES, gamma=1.5).item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert focal(LOGITS, CLASSES, gamma=0.0).item() == pytest.approx(
        F.cross_entropy(LOGITS, CLASSES).item(), rel=1e-6)
    alpha = torch.tensor([0.5, 2.0, 1.0])
    weighted = (-alpha[CLASSES] * (1 - p) ** 1.5 * torch.log(p)).mean()
    assert focal(LOGITS, CLASSES, gamma=1.5, class_alpha=alpha).item() == pytest.approx(
        weighted.item(), rel=1e-6)


def test_focal_follows_the_task_and_handles_sequences():
    binary = build_loss(FocalConfig(alpha=0.25), "binary")
    logits, targets = torch.tensor([[0.3], [-2.0]]), torch.tensor([[1.0], [0.0]])
    assert binary(logits, targets).item() == pytest.approx(
        binary_focal(logits, targets, gamma=2.0, alpha=0.25).item())
    multi = build_loss(FocalConfig(alpha=[1.0, 2.0, 3.0]), "classification", 3)
    sequence = LOGITS.reshape(2, 2, 3)  # (N, T, C) with targets (N, T)
    assert multi(sequence, CLASSES.reshape(2, 2)).item() == pytest.approx(
        focal(LOGITS, CLASSES, gamma=2.0, class_alpha=torch.tensor([1.0, 2.0, 3.0])).item(),
        rel=1e-6)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    multilabel = build_loss(FocalConfig(), "multilabel")(LOGITS, labels)  # sigmoid per label
    assert multilabel.item() == pytest.approx(
        binary_focal(LOGITS, labels, gamma=2.0, alpha=None).item())
    with pytest.raises(TrainError, match="binary focal loss takes one alpha"):
        build_loss(FocalConfig(alpha=[1.0, 2.0]), "binary")
    with pytest.raises(TrainError, match="alpha has 2 weights but the data has 3 classes"):
        build_loss(FocalConfig(alpha=[1.0, 2.0]), "classification", 3)


def test_focal_skips_padded_positions_of_token_sequences():
    """Tagging and language-model targets pad with -100: focal skips those positions as
    cross_entropy does (gamma 0 is cross-entropy), instead of indexing class -100."""
    sequence, targets = LOGITS.reshape(2, 2, 3), CLASSES.reshape(2, 2).clone()
    targets[1, 1] = -100
    loss = build_loss(FocalConfig(gamma=0.0), "tagging", 3)(sequence, targets)
    assert loss.item() == pytest.approx(
        F.cross_entropy(sequence.movedim(-1, 1), targets, ignore_index=-100).item(), rel=1e-6)


def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mean, log_var = torch.randn(5, 3), torch.randn(5, 3)
    posterior = torch.distributions.Normal(mean, (0.5 * log_var).exp())
    prior = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    per_sample = torch.distributions.kl_divergence(posterior, prior).sum(dim=1)
    loss = build_loss(GaussianKLConfig(), "regression")((mean, log_var), None)
    assert loss.item() == pytest.approx(per_sample.mean().item(), rel=1e-5)
    assert gaussian_kl(mean, log_var, reduction="mean").item() == pytest.approx(
        per_sample.sum().item() / 15, rel=1e-5)
    assert gaussian_kl(torch.zeros(2, 4), torch.zeros(2, 4), reduction="batchmean").item() == 0


def test_info_nce_is_simclrs_nt_xent_written_out():
    torch.manual_seed(1)
    v1, v2 = torch.randn(3, 4), torch.randn(3, 4)
    z = [x / x.norm() for x in torch.cat([v1, v2])]
    t, n = 0.5, 3
    losses = []
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        sims = {k: float(z[i] @ z[k]) / t for k in range(2 * n) if k != i}
        losses.append(-math.log(math.exp(sims[positive]) / sum(map(math.exp, sims.values()))))
    loss = build_loss(InfoNCEConfig(temperature=t), "regression")((v1, v2), None)
    assert loss.item() == pytest.approx(sum(losses) / (2 * n), rel=1e-5)
    assert info_nce(v2, v1, temperature=t).item() == pytest.approx(loss.item(), rel=1e-5)
    # two identical, mutually orthogonal views: only the temperature separates the pairs
    eye = torch.eye(2)
    expected = -math.log(math.exp(1 / 0.5) / (math.exp(1 / 0.5) + 2))  # cos 1 with itself, 0 else
    assert info_nce(eye, eye, temperature=0.5).item() == pytest.approx(expected, rel=1e-6)


# Four points on a line at 0, 1, 3, 7 with labels a, a, b, a (anchor 2 has no positive).
LINE = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
LINE_LABELS = torch.tensor([0, 0, 1, 0])


def test_pairwise_distances_are_euclidean_with_a_finite_gradient_on_the_diagonal():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    d = pairwise_distances(x)
    assert d.flatten().tolist() == pytest.approx([1e-6, 5.0, 5.0, 1e-6])
    d.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_batch_hard_mining_picks_the_farthest_positive_and_the_nearest_negative():
    positive, negative, valid = batch_hard_pairs(pairwise_distances(LINE), LINE_LABELS)
    # anchor 0: positives 1 (d 1), 3 (d 7) -> 3; its only negative is 2
    # anchor 1: positives 0 (d 1), 3 (d 6) -> 3; anchor 3: positives 0 (7), 1 (6) -> 0
    assert positive[[0, 1, 3]].tolist() == [3, 3, 0]
    assert negative[[0, 1, 3]].tolist() == [2, 2, 2]
    assert valid.tolist() == [True, True, False, True]  # 2 is alone in its class


def test_batch_hard_triplet_is_the_mean_hinge_over_anchors_with_both():
    # anchor 0: 7 - 3 + m; anchor 1: 6 - 2 + m; anchor 3: 7 - 4 + m; anchor 2 skipped
    loss = batch_hard_triplet(LINE, LINE_LABELS, margin=0.5)
    assert loss.item() == pytest.approx(((4 + 0.5) + (4 + 0.5) + (3 + 0.5)) / 3, rel=1e-5)
    # far-apart classes: every hinge is 0
    apart = torch.tensor([[0.0], [0.1], [10.0], [10.2]])
    assert batch_hard_triplet(apart, torch.tensor([0, 0, 1, 1]), margin=1.0).item() == 0.0


def test_batch_hard_triplet_is_zero_with_a_gradient_when_no_anchor_has_a_positive():
    x = torch.randn(3, 2, requires_grad=True)
    loss = batch_hard_triplet(x, torch.tensor([0, 1, 2]), margin=1.0)
    loss.backward()
    assert loss.item() == 0.0 and x.grad is not None

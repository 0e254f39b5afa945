"""build_loss: each loss op against torch.nn.functional or its formula, weighted sums over
named outputs, and the errors a spec can cause."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dlspec.errors import TrainError
from dlspec.train.recipe.config import BCEWithLogitsConfig, CrossEntropyConfig, MAEConfig, MSEConfig
from dlspec.train.recipe.loss_config import (
    BCEConfig,
    CosineEmbeddingConfig,
    GaussianKLConfig,
    HuberConfig,
    KLDivConfig,
    NLLConfig,
    SmoothL1Config,
    TripletConfig,
)
from dlspec.train.recipe.losses import build_loss

LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [1.0, 1.0, 1.0], [-2.0, 4.0, 0.0]])
CLASSES = torch.tensor([0, 2, 1, 1])
LOG_P = torch.log_softmax(LOGITS, dim=1)
PRED = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
TARGET = torch.tensor([[0.0, 2.0], [1.0, 1.0]])  # errors 1, 0, 2, -2


def ce(task="classification", classes=3, **settings):
    return build_loss(CrossEntropyConfig(**settings), task, classes)


def test_plain_cross_entropy_is_the_mean_negative_log_softmax():
    by_hand = -LOG_P[torch.arange(4), CLASSES].mean()
    assert ce()(LOGITS, CLASSES).item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert ce()(LOGITS[2:3], CLASSES[2:3]).item() == pytest.approx(math.log(3), rel=1e-6)


def test_label_smoothing_mixes_in_a_uniform_target():
    eps = 0.1
    target = torch.full((4, 3), eps / 3)
    target[torch.arange(4), CLASSES] += 1 - eps
    by_hand = -(target * LOG_P).sum(dim=1).mean()
    loss = ce(label_smoothing=eps)(LOGITS, CLASSES)
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert loss.item() == pytest.approx(
        F.cross_entropy(LOGITS, CLASSES, label_smoothing=eps).item(), rel=1e-6)


def test_class_weights_give_a_weighted_mean():
    weights = [1.0, 3.0, 0.5]
    w = torch.tensor(weights)[CLASSES]
    nll = -LOG_P[torch.arange(4), CLASSES]
    loss = ce(class_weights=weights)(LOGITS, CLASSES)
    assert loss.item() == pytest.approx(((w * nll).sum() / w.sum()).item(), rel=1e-6)


def test_label_smoothing_with_class_weights_follows_torchs_formula():
    # sum_i [(1 - e) w_yi (-log p_i,yi) + e / C * sum_c w_c (-log p_ic)] / sum_i w_yi
    eps, weights = 0.2, torch.tensor([1.0, 3.0, 0.5])
    hit = (1 - eps) * weights[CLASSES] * -LOG_P[torch.arange(4), CLASSES]
    smooth = eps / 3 * (weights * -LOG_P).sum(dim=1)
    by_hand = (hit + smooth).sum() / weights[CLASSES].sum()
    loss = ce(label_smoothing=eps, class_weights=weights.tolist())(LOGITS, CLASSES)
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)


def test_ignore_index_drops_samples_from_the_loss_and_its_mean():
    targets = torch.tensor([0, 2, -1, 1])  # sample 2 is padding
    kept = torch.tensor([0, 1, 3])
    by_hand = -LOG_P[kept, CLASSES[kept]].mean()
    assert ce(ignore_index=-1)(LOGITS, targets).item() == pytest.approx(by_hand.item(), rel=1e-6)
    smoothed = ce(ignore_index=-1, label_smoothing=0.1)(LOGITS, targets)
    assert smoothed.item() == pytest.approx(ce(label_smoothing=0.1)(
        LOGITS[kept], CLASSES[kept]).item(), rel=1e-6)


def test_cross_entropy_over_sequences_moves_the_class_dim():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 3)  # (N, T, C) as a sequence model returns it
    tokens = torch.tensor([[0, 2, 1, 0, 0], [1, 1, 2, 2, 0]])
    loss = ce(ignore_index=0)(logits, tokens)
    flat = F.cross_entropy(logits.reshape(-1, 3), tokens.reshape(-1), ignore_index=0)
    assert loss.item() == pytest.approx(flat.item(), rel=1e-6)
    keep = tokens.reshape(-1) != 0
    by_hand = -torch.log_softmax(logits.reshape(-1, 3), 1)[keep, tokens.reshape(-1)[keep]].mean()
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)


def test_cross_entropy_on_one_hot_and_soft_targets():
    one_hot = F.one_hot(CLASSES, 3).float()
    assert ce()(LOGITS, one_hot).item() == pytest.approx(ce()(LOGITS, CLASSES).item(), rel=1e-6)
    soft = torch.tensor([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3], [0.1, 0.8, 0.1]])
    assert ce()(LOGITS, soft).item() == pytest.approx(
        -(soft * LOG_P).sum(1).mean().item(), rel=1e-6)
    smoothed = soft * 0.9 + 0.1 / 3
    assert ce(label_smoothing=0.1)(LOGITS, soft).item() == pytest.approx(
        -(smoothed * LOG_P).sum(1).mean().item(), rel=1e-6)


def test_class_weights_must_match_the_classes():
    with pytest.raises(TrainError, match="class_weights has 2 weights but the data has 3") as e:
        ce(class_weights=[1.0, 2.0])
    assert e.value.codes == ["DLS402"]


def test_nll_on_log_probabilities_with_weights_and_ignore_index():
    targets = torch.tensor([0, 2, 5, 1])
    loss = build_loss(NLLConfig(class_weights=[1.0, 2.0, 0.5], ignore_index=5),
                      "classification", 3)(LOG_P, targets)
    w = torch.tensor([1.0, 2.0, 0.5])
    kept = torch.tensor([0, 1, 3])
    by_hand = (w[targets[kept]] * -LOG_P[kept, targets[kept]]).sum() / w[targets[kept]].sum()
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)
    plain = build_loss(NLLConfig(), "classification", 3)(LOG_P, CLASSES)
    assert plain.item() == pytest.approx(ce()(LOGITS, CLASSES).item(), rel=1e-6)


def test_bce_on_probabilities_and_on_logits_with_pos_weight():
    logits = torch.tensor([[1.5], [-0.5], [0.0], [3.0]])
    targets = torch.tensor([[1.0], [0.0], [1.0], [0.0]])
    p = torch.sigmoid(logits)
    by_hand = -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()
    assert build_loss(BCEConfig(), "binary")(p, targets).item() == pytest.approx(
        by_hand.item(), rel=1e-5)
    assert build_loss(BCEWithLogitsConfig(), "binary")(logits, targets).item() == pytest.approx(
        by_hand.item(), rel=1e-5)
    weighted = build_loss(BCEWithLogitsConfig(pos_weight=4.0), "binary")(logits, targets)
    by_hand = -(4.0 * targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()
    assert weighted.item() == pytest.approx(by_hand.item(), rel=1e-5)


def test_bce_with_logits_takes_one_pos_weight_per_column():
    logits, targets = torch.tensor([[0.5, -1.0], [2.0, 0.3]]), torch.tensor([[1.0, 1.0], [0, 1.0]])
    loss = build_loss(BCEWithLogitsConfig(pos_weight=[2.0, 3.0]), "binary")(logits, targets)
    assert loss.item() == pytest.approx(F.binary_cross_entropy_with_logits(
        logits, targets, pos_weight=torch.tensor([2.0, 3.0])).item(), rel=1e-6)


@pytest.mark.parametrize(("config", "mean", "batchmean"), [
    (MSEConfig(), 9 / 4, 9 / 2),  # squared errors 1, 0, 4, 4
    (MAEConfig(), 5 / 4, 5 / 2),
    (MAEConfig(op="l1"), 5 / 4, 5 / 2),
    (HuberConfig(delta=1.0), (0.5 + 0 + 1.5 + 1.5) / 4, 3.5 / 2),  # |e| > 1: delta(|e| - delta/2)
    (HuberConfig(delta=2.5), (0.5 + 0 + 2 + 2) / 4, 4.5 / 2),  # all squared: e^2 / 2
    (SmoothL1Config(beta=2.0), (0.25 + 0 + 1 + 1) / 4, 2.25 / 2),  # Huber(beta) / beta
])
def test_regression_losses_and_their_reductions(config, mean, batchmean):
    assert build_loss(config, "regression")(PRED, TARGET).item() == pytest.approx(mean)
    summed = config.model_copy(update={"reduction": "batchmean"})
    assert build_loss(summed, "regression")(PRED, TARGET).item() == pytest.approx(batchmean)


def test_smooth_l1_and_huber_match_torch():
    torch.manual_seed(1)
    a, b = torch.randn(6, 3), torch.randn(6, 3)
    assert build_loss(SmoothL1Config(beta=0.3), "regression")(a, b).item() == pytest.approx(
        F.smooth_l1_loss(a, b, beta=0.3).item(), rel=1e-6)
    assert build_loss(HuberConfig(delta=0.7), "regression")(a, b).item() == pytest.approx(
        F.huber_loss(a, b, delta=0.7).item(), rel=1e-6)


def test_kl_div_batchmean_from_log_probabilities_to_probabilities():
    q = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [1 / 3, 1 / 3, 1 / 3], [0.0, 1.0, 0.0]])
    terms = torch.where(q > 0, q * (torch.log(q.clamp_min(1e-30)) - LOG_P), torch.zeros(()))
    loss = build_loss(KLDivConfig(), "regression")(LOG_P, q)
    assert loss.item() == pytest.approx((terms.sum() / 4).item(), rel=1e-6)
    assert loss.item() == pytest.approx(
        F.kl_div(LOG_P, q, reduction="batchmean").item(), rel=1e-6)
    log_q = torch.log(q[:3])
    assert build_loss(KLDivConfig(log_target=True), "regression")(LOG_P[:3], log_q).item() == \
        pytest.approx(F.kl_div(LOG_P[:3], log_q, reduction="batchmean",
                               log_target=True).item(), rel=1e-6)


def test_triplet_and_cosine_embedding_against_torch():
    torch.manual_seed(2)
    a, p, n = torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 4)
    loss = build_loss(TripletConfig(margin=0.5), "regression")((a, p, n), None)
    by_hand = (torch.norm(a - p + 1e-6, dim=1) - torch.norm(a - n + 1e-6, dim=1) + 0.5).clamp_min(0)
    assert loss.item() == pytest.approx(by_hand.mean().item(), rel=1e-5)
    assert loss.item() == pytest.approx(
        F.triplet_margin_loss(a, p, n, margin=0.5).item(), rel=1e-6)
    pairs = torch.tensor([1, 0, 1, 0, 0])  # 0 is read as a dissimilar pair (-1)
    loss = build_loss(CosineEmbeddingConfig(margin=0.2), "binary")((a, p), pairs)
    cos = F.cosine_similarity(a, p)
    by_hand = torch.where(pairs > 0, 1 - cos, (cos - 0.2).clamp_min(0)).mean()
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-5)


@pytest.mark.parametrize(("config", "task"), [
    (MSEConfig(), "classification"), (CrossEntropyConfig(), "regression"),
    (BCEWithLogitsConfig(), "classification"), (MAEConfig(), "binary"),
])
def test_a_loss_for_another_task_is_a_clear_error(config, task):
    with pytest.raises(TrainError, match=f"is for .* targets, but the data is a {task} task"):
        build_loss(config, task, 3)


def test_a_weighted_sum_over_named_outputs_and_an_input_target():
    torch.manual_seed(3)
    image, recon = torch.rand(4, 6), torch.rand(4, 6)
    mu, log_var = torch.randn(4, 2), torch.randn(4, 2)
    loss = build_loss([MSEConfig(output="recon", target="image"),
                       GaussianKLConfig(output=["mu", "log_var"], weight=0.5)],
                      "classification", output_names=("recon", "mu", "log_var"),
                      input_names=("image",))
    kl = (-0.5 * (1 + log_var - mu**2 - log_var.exp())).sum(1).mean()
    expected = ((recon - image) ** 2).mean() + 0.5 * kl
    labels = torch.tensor([0, 1, 0, 1])  # the data's targets: unused by both terms
    as_tuple = loss((recon, mu, log_var), labels, {"image": image})
    assert as_tuple.item() == pytest.approx(expected.item(), rel=1e-6)
    as_dict = loss({"log_var": log_var, "mu": mu, "recon": recon}, labels, image)
    assert as_dict.item() == pytest.approx(expected.item(), rel=1e-6)


def test_unknown_outputs_and_inputs_and_missing_tensors_are_errors():
    with pytest.raises(TrainError, match="reads the output 'recn'") as error:
        build_loss(MSEConfig(output="recn"), "regression", output_names=("recon", "mu"))
    assert error.value.codes == ["DLS305"] and "did you mean 'recon'" in str(error.value)
    with pytest.raises(TrainError, match="'img', which is not a model input") as error:
        build_loss(MSEConfig(target="img"), "regression", input_names=("image",))
    assert error.value.codes == ["DLS301"]
    triplet = build_loss(TripletConfig(), "regression")
    with pytest.raises(TrainError, match="reads 3 model outputs, but the model returns one"):
        triplet(torch.zeros(2, 3), None)
    with pytest.raises(TrainError, match="inputs were not passed"):
        build_loss(MSEConfig(target="image"), "regression")(torch.zeros(2, 3), None)


def test_weight_tensors_are_buffers_that_move_with_the_module():
    loss = ce(class_weights=[1.0, 2.0, 3.0])
    buffers = dict(loss.named_buffers())
    assert list(buffers) == ["terms.0.weight"]
    assert loss.to(torch.float64).terms[0].weight.dtype == torch.float64

"""The loss functions torch does not have in this form, as plain functions of tensors.

Class-index losses take logits with the classes last, (N, C) or (N, T, C) as a sequence
model returns them, and move the class dim where torch wants it (dim 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_NONE = -100  # torch's default ignore_index; no class has it


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """mean over every element, or batchmean: the sum over elements / the batch size."""
    return loss.mean() if reduction == "mean" else loss.sum() / loss.shape[0]


def classes_to_dim1(x: torch.Tensor) -> torch.Tensor:
    """(N, T, C) -> (N, C, T); (N, C) stays."""
    return x.movedim(-1, 1) if x.ndim > 2 else x


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, *, label_smoothing: float,
                  ignore_index: int, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax cross-entropy against class indices, or against probabilities (float targets
    shaped like the logits: one-hot or soft labels)."""
    if target.is_floating_point():
        target = classes_to_dim1(target.to(logits.dtype))
    return F.cross_entropy(classes_to_dim1(logits), target, weight=weight,
                           ignore_index=ignore_index, label_smoothing=label_smoothing)


def nll(log_probs: torch.Tensor, target: torch.Tensor, *, ignore_index: int,
        weight: torch.Tensor | None = None) -> torch.Tensor:
    """Negative log-likelihood of class indices under log-probabilities."""
    return F.nll_loss(classes_to_dim1(log_probs), target, weight=weight,
                      ignore_index=ignore_index)


def binary_focal(logits: torch.Tensor, target: torch.Tensor, *, gamma: float,
                 alpha: float | None) -> torch.Tensor:
    """Mean of alpha_t * (1 - p_t) ** gamma * BCE(logit, target), p_t = p for target 1 else
    1 - p (RetinaNet's sigmoid focal loss)."""
    target = target.to(logits.dtype)
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = p * target + (1 - p) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = loss * (alpha * target + (1 - alpha) * (1 - target))
    return loss.mean()


def focal(logits: torch.Tensor, target: torch.Tensor, *, gamma: float,
          alpha: float | None = None, class_alpha: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of -alpha_y * (1 - p_y) ** gamma * log p_y over samples (softmax focal loss);
    positions whose target is IGNORE_NONE (the padding of token sequences) are skipped."""
    keep = target != IGNORE_NONE
    target = target.where(keep, 0)
    log_p = F.log_softmax(logits, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
    loss = -(1 - log_p.exp()) ** gamma * log_p
    if class_alpha is not None:
        loss = loss * class_alpha[target]
    elif alpha is not None:
        loss = loss * alpha
    return loss[keep].mean()


def gaussian_kl(mean: torch.Tensor, log_var: torch.Tensor, *, reduction: str) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) || N(0, 1)) = -0.5 * (1 + log_var - mean^2 - exp(log_var)),
    per latent element, then reduced (batchmean: summed over the code, mean over samples)."""
    return reduce(-0.5 * (1 + log_var - mean.pow(2) - log_var.exp()), reduction)


def info_nce(view1: torch.Tensor, view2: torch.Tensor, *, temperature: float) -> torch.Tensor:
    """NT-Xent (SimCLR): with z the 2N L2-normalized embeddings of both views, the mean over
    i of -log(exp(s_ip / t) / sum_{k != i} exp(s_ik / t)), where s is cosine similarity and
    p is the other view of sample i."""
    z = F.normalize(torch.cat([view1.flatten(1), view2.flatten(1)]), dim=1)
    n = len(view1)
    similarity = (z @ z.T) / temperature
    similarity = similarity.masked_fill(
        torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(similarity, positives)


def cosine_embedding(x1: torch.Tensor, x2: torch.Tensor, target: torch.Tensor, *,
                     margin: float) -> torch.Tensor:
    """torch's cosine embedding loss; a target > 0 is a similar pair, any other dissimilar."""
    sign = torch.where(target.reshape(-1) > 0, 1, -1).to(x1.dtype)
    return F.cosine_embedding_loss(x1.flatten(1), x2.flatten(1), sign, margin=margin)


def pairwise_distances(x: torch.Tensor) -> torch.Tensor:
    """(N, N) Euclidean distances between the rows of x (flattened per sample); the square
    root is taken of at least 1e-12, so the zero diagonal has a finite gradient."""
    x = x.flatten(1)
    return (x[:, None, :] - x[None, :, :]).pow(2).sum(-1).clamp_min(1e-12).sqrt()


def batch_hard_pairs(distances: torch.Tensor, labels: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch-hard mining (Hermans et al. 2017): for each anchor i of an (N, N) distance
    matrix, the index of its farthest positive (same label, not i) and of its nearest
    negative (another label), and whether it has both."""
    same = labels[:, None] == labels[None, :]
    itself = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive = same & ~itself
    hardest_positive = distances.masked_fill(~positive, float("-inf")).argmax(1)
    hardest_negative = distances.masked_fill(same, float("inf")).argmin(1)
    return hardest_positive, hardest_negative, positive.any(1) & (~same).any(1)


def batch_hard_triplet(embeddings: torch.Tensor, labels: torch.Tensor, *,
                       margin: float) -> torch.Tensor:
    """Mean over the anchors that have a positive and a negative in the batch of
    max(d(a, hardest positive) - d(a, hardest negative) + margin, 0), Euclidean distances
    (0 when no anchor has both)."""
    distances = pairwise_distances(embeddings)
    positive, negative, valid = batch_hard_pairs(distances, labels)
    rows = torch.arange(len(labels), device=distances.device)
    loss = (distances[rows, positive] - distances[rows, negative] + margin).clamp_min(0)
    return loss[valid].mean() if valid.any() else loss.sum() * 0

"""How good a generator's samples are, judged by a classifier trained on real data.

- `frechet_distance`: the Fréchet distance between two Gaussians fitted to two feature sets
  (mean and covariance), the FID of Heusel et al. 2017 when the features are a classifier's
  penultimate layer: 0 for equal distributions, larger the further apart.
- `class_entropy`: the entropy (nats) of the predicted classes' frequencies: log(C) when
  every class is predicted equally often, 0 when one class takes every sample.
- `mean_top_probability`: the mean over the samples of the classifier's top class
  probability: near 1 when each sample clearly looks like one class.

`judge` runs a classifier over samples and gives all three at once. numpy and scipy only,
except `judge` and `penultimate_features`, which run the classifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2)) of the features `a` (n, d) and
    `b` (m, d), one row per sample (n, m >= 2)."""
    from scipy import linalg

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"two feature sets of shape (n >= 2, d) are needed, got {a.shape} "
                         f"and {b.shape}")
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False, ddof=1), np.cov(b, rowvar=False, ddof=1)
    cov_a, cov_b = np.atleast_2d(cov_a), np.atleast_2d(cov_b)
    root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():  # a singular product: nudge both diagonals
        eps = np.eye(len(cov_a)) * 1e-6
        root = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    root = np.real(root)  # rounding leaves tiny imaginary parts
    distance = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root)
    return float(max(distance, 0.0))


def class_entropy(labels: np.ndarray, num_classes: int) -> float:
    """Entropy in nats of how often each of `num_classes` classes occurs in `labels`."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    if counts.sum() == 0:
        return 0.0
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def mean_top_probability(probabilities: np.ndarray) -> float:
    """Mean over the rows of (n, C) class probabilities of each row's largest."""
    return float(np.asarray(probabilities, dtype=np.float64).max(axis=1).mean())


@dataclass(frozen=True)
class Judgement:
    """What a classifier makes of a set of samples."""

    top_probability: float  # mean top-class probability
    entropy: float  # of the predicted classes, nats
    class_counts: tuple[int, ...]  # samples predicted as each class
    features: np.ndarray  # (n, d) penultimate features, for frechet_distance


def penultimate_features(classifier: torch.nn.Module, samples: torch.Tensor, layer: str,
                         batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(class probabilities (n, C), the inputs of the classifier's `layer` (n, d)): the
    features a classifier's last layer reads, and its softmax output."""
    import torch

    module = classifier.get_submodule(layer)
    seen: list[torch.Tensor] = []
    hook = module.register_forward_hook(lambda _m, args, _out: seen.append(args[0].flatten(1)))
    probabilities = []
    was = classifier.training
    classifier.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(samples), batch_size):
                logits = classifier(samples[start:start + batch_size])
                probabilities.append(torch.softmax(logits.float(), dim=1))
    finally:
        hook.remove()
        classifier.train(was)
    return (torch.cat(probabilities).cpu().numpy().astype(np.float64),
            torch.cat(seen).float().cpu().numpy().astype(np.float64))


def judge(classifier: torch.nn.Module, samples: torch.Tensor, layer: str) -> Judgement:
    """The classifier's view of `samples`: top-class probability, class entropy and counts,
    and the features its `layer` (the last, typically) reads."""
    probabilities, features = penultimate_features(classifier, samples, layer)
    labels = probabilities.argmax(axis=1)
    classes = probabilities.shape[1]
    return Judgement(mean_top_probability(probabilities), class_entropy(labels, classes),
                     tuple(int(c) for c in np.bincount(labels, minlength=classes)), features)

"""The sample judges: Fréchet distance, class entropy, mean top-class probability, and a
classifier's view of samples, against hand-computed values."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from dlspec.train.scoring.sample_quality import (
    class_entropy,
    frechet_distance,
    judge,
    mean_top_probability,
)


def test_frechet_distance_of_one_dimensional_gaussians():
    a = np.array([[0.0], [2.0]])  # mean 1, variance 2
    b = np.array([[3.0], [5.0], [7.0]])  # mean 5, variance 4
    # (1 - 5)^2 + 2 + 4 - 2 sqrt(2 * 4)
    assert frechet_distance(a, b) == pytest.approx(22 - 2 * math.sqrt(8))
    assert frechet_distance(a, b) == pytest.approx(16.343146, abs=1e-6)


def test_frechet_distance_adds_up_over_independent_dims_and_is_zero_for_equal_sets():
    a = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])  # mean (1, 1), cov 4/3 I
    b = a * 3 + 1  # mean (4, 4), cov 12 I
    var_a, var_b = 4 / 3, 12.0
    expected = 2 * 9 + 2 * (var_a + var_b - 2 * math.sqrt(var_a * var_b))
    assert frechet_distance(a, b) == pytest.approx(expected)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(x, x + 2.0) == pytest.approx(5 * 4.0, rel=1e-6)


def test_frechet_distance_of_a_singular_covariance_is_finite():
    a = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])  # rank-1 covariance
    assert math.isfinite(frechet_distance(a, a + [0.0, 1.0]))
    assert frechet_distance(a, a + [0.0, 1.0]) == pytest.approx(1.0, abs=1e-3)


def test_frechet_distance_refuses_sets_of_other_widths():
    with pytest.raises(ValueError, match=r"\(n >= 2, d\)"):
        frechet_distance(np.zeros((3, 2)), np.zeros((3, 4)))


def test_class_entropy():
    assert class_entropy(np.zeros(50, dtype=int), 10) == 0.0
    assert class_entropy(np.arange(100) % 10, 10) == pytest.approx(math.log(10))
    assert class_entropy(np.array([0, 0, 1, 1]), 10) == pytest.approx(math.log(2))
    # 3/4, 1/4: -(0.75 ln 0.75 + 0.25 ln 0.25)
    assert class_entropy(np.array([3, 3, 3, 7]), 10) == pytest.approx(0.562335, abs=1e-6)


def test_mean_top_probability():
    assert mean_top_probability(np.array([[0.9, 0.1], [0.4, 0.6]])) == pytest.approx(0.75)


def test_judge_reads_the_features_the_last_layer_sees_and_the_predicted_classes():
    torch.manual_seed(0)
    classifier = nn.Sequential(OrderedDict(
        hidden=nn.Linear(2, 4), act=nn.ReLU(), logits=nn.Linear(4, 3)))
    with torch.no_grad():
        classifier.logits.weight.copy_(torch.tensor(
            [[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]) * 50)
        classifier.logits.bias.zero_()
    classifier.train()
    x = torch.randn(64, 2)
    result = judge(classifier, x, "logits")
    hidden = torch.relu(classifier.hidden(x)).detach().numpy()
    assert np.allclose(result.features, hidden, atol=1e-6)
    labels = (hidden[:, :3] * 50).argmax(1)
    assert result.class_counts == tuple(np.bincount(labels, minlength=3))
    assert result.entropy == pytest.approx(class_entropy(labels, 3))
    probs = torch.softmax(torch.from_numpy(hidden[:, :3] * 50).double(), 1).numpy()
    assert result.top_probability == pytest.approx(probs.max(1).mean(), rel=1e-5)
    assert classifier.training  # left as it was

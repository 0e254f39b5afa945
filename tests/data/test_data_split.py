"""Train/val/test splits: sizes, disjointness, determinism, stratification."""

import numpy as np
import pytest

from dlspec.data.split import split_indices, split_sizes


def assert_partition(parts, n):
    joined = np.concatenate(parts)
    assert len(joined) == n and sorted(joined.tolist()) == list(range(n))
    assert all(part.dtype == np.int64 for part in parts)


@pytest.mark.parametrize("n, fractions, sizes", [
    (100, [0.8, 0.1, 0.1], (80, 10, 10)),
    (150, [0.7, 0.15, 0.15], (104, 23, 23)),
    (5, [0.8, 0.1, 0.1], (3, 1, 1)),
    (1, [0.8, 0.1, 0.1], (1, 0, 0)),
    (2, [0.2, 0.4, 0.4], (1, 1, 0)),
    (10, [1.0, 0.0, 0.0], (10, 0, 0)),
    (10, [0.5, 0.0, 0.5], (5, 0, 5)),
])
def test_split_sizes(n, fractions, sizes):
    assert split_sizes(n, fractions) == sizes
    parts = split_indices(n, fractions, seed=0)
    assert tuple(len(p) for p in parts) == sizes
    assert_partition(parts, n)


def test_same_seed_same_split_other_seed_other_split():
    first = split_indices(200, [0.6, 0.2, 0.2], seed=7)
    again = split_indices(200, [0.6, 0.2, 0.2], seed=7)
    other = split_indices(200, [0.6, 0.2, 0.2], seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(np.sort(first[1]), np.sort(other[1]))


def test_unstratified_split_is_shuffled():
    train, _, _ = split_indices(100, [0.8, 0.1, 0.1], seed=0)
    assert not np.array_equal(np.sort(train), train)
    assert not np.array_equal(np.sort(train), np.arange(80))


def test_stratified_split_keeps_class_proportions():
    labels = np.repeat([0, 1, 2], [600, 300, 100])
    np.random.default_rng(1).shuffle(labels)
    parts = split_indices(1000, [0.8, 0.1, 0.1], seed=3, labels=labels)
    assert_partition(parts, 1000)
    counts = [np.bincount(labels[part], minlength=3).tolist() for part in parts]
    assert counts == [[480, 240, 80], [60, 30, 10], [60, 30, 10]]


def test_stratified_uneven_classes_stay_within_one_sample():
    labels = np.array(["a"] * 37 + ["b"] * 23 + ["c"] * 11)
    parts = split_indices(71, [0.6, 0.2, 0.2], seed=0, labels=labels)
    assert_partition(parts, 71)
    assert tuple(len(p) for p in parts) == split_sizes(71, [0.6, 0.2, 0.2]) == (43, 14, 14)
    for name, total in (("a", 37), ("b", 23), ("c", 11)):
        for part, fraction in zip(parts, [0.6, 0.2, 0.2], strict=True):
            assert abs(np.sum(labels[part] == name) - total * fraction) <= 1.0


def test_stratified_is_deterministic_and_depends_on_seed():
    labels = np.arange(300) % 3
    a = split_indices(300, [0.5, 0.25, 0.25], seed=0, labels=labels)
    b = split_indices(300, [0.5, 0.25, 0.25], seed=0, labels=labels)
    c = split_indices(300, [0.5, 0.25, 0.25], seed=1, labels=labels)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(np.sort(a[0]), np.sort(c[0]))


def test_label_count_must_match():
    with pytest.raises(ValueError, match="3 labels for 4 samples"):
        split_indices(4, [0.5, 0.25, 0.25], seed=0, labels=np.array([0, 1, 0]))

"""Deterministic train/val/test splits, stratified by class when labels are given."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlspec.data.split_sizes import split_sizes

__all__ = ["ordered_splits", "split_indices", "split_sizes"]


def _evenly_interleaved(sizes: Sequence[int]) -> np.ndarray:
    """Split numbers (0, 1, 2) in an order where each split's members are evenly spaced.

    Any run of consecutive positions then holds each split close to its share, which is what
    makes class-grouped stratification proportional for every class.
    """
    keys = [(j + 0.5) / size for size in sizes for j in range(size)]
    owners = [k for k, size in enumerate(sizes) for _ in range(size)]
    order = np.argsort(np.asarray(keys), kind="stable")
    return np.asarray(owners, dtype=np.int64)[order]


def split_indices(
    n: int, fractions: Sequence[float], seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split range(n) into train, val and test index arrays (int64, in shuffled order).

    The same seed always gives the same split. With `labels` (one class per sample) each
    class is spread over the splits in proportion to `fractions`, within one sample per
    class and split; the split sizes are the same either way. Every index lands in exactly
    one split; a split whose fraction is 0 is empty.
    """
    rng = np.random.default_rng(seed)
    sizes = split_sizes(n, fractions)
    order = rng.permutation(n)
    if labels is None:
        owner = np.repeat(np.arange(3), sizes)
    else:
        labels = np.asarray(labels)
        if len(labels) != n:
            raise ValueError(f"got {len(labels)} labels for {n} samples")
        order = order[np.argsort(labels[order], kind="stable")]  # grouped by class, shuffled within
        owner = _evenly_interleaved(sizes)
    parts = tuple(order[owner == k] for k in range(3))
    return tuple(rng.permutation(part).astype(np.int64) for part in parts)  # type: ignore[return-value]


def ordered_splits(n: int, fractions: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """range(n) cut in order into train, val and test of `split_sizes` (for data whose
    samples come already grouped by split)."""
    cuts = np.cumsum((0, *split_sizes(n, fractions)))
    return tuple(np.arange(cuts[k], cuts[k + 1], dtype=np.int64) for k in range(3))  # type: ignore[return-value]

"""The sizes of the train/val/test splits, numpy-free (`dlspec validate` computes them for a
corpus's parts without importing numpy)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def split_sizes(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """Sizes of the three splits: val and test rounded half up, train gets the rest (>= 1)."""
    n_val = math.floor(n * fractions[1] + 0.5)
    n_test = math.floor(n * fractions[2] + 0.5)
    overflow = n_val + n_test - (n - min(n, 1))  # train keeps at least one sample
    if overflow > 0:
        cut_test = min(n_test, overflow)
        n_test -= cut_test
        n_val -= overflow - cut_test
    return n - n_val - n_test, n_val, n_test

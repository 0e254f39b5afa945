"""`data.rescale: [low, high]`: features mapped linearly from the train split's range onto
[low, high] (e.g. [-1, 1] for a generator ending in tanh), instead of standardized.

One range for every feature (the smallest to the largest train value of them all), so the
features of an image keep their relative intensities. It is written as the (mean, std) of a
standardization, (x - mean) / std, so training and exported models apply it like one."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

RESCALE_TEXT = ("Map the features linearly from the train split's range (its smallest to its "
                "largest value, over all features) onto [low, high] instead of standardizing "
                "them, e.g. [-1, 1] for images a generator makes with tanh. Exported models "
                "include this scaling.")


def check_rescale(bounds: list[float] | None) -> list[float] | None:
    """`rescale` as given, when it is [low, high] with low < high (else ValueError)."""
    if bounds is None:
        return None
    if len(bounds) != 2 or not all(math.isfinite(b) for b in bounds) or bounds[0] >= bounds[1]:
        raise ValueError(f"rescale needs two finite numbers [low, high] with low < high, got "
                         f"{bounds}")
    return bounds


def rescaling(x_train: np.ndarray, bounds: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (mean, std) with (x - mean) / std = low + (x - min) / (max - min) *
    (high - low), min and max over every train value (a constant set keeps its span 1)."""
    import numpy as np

    low, high = bounds
    smallest, largest = float(x_train.min()), float(x_train.max())
    scale = ((largest - smallest) or 1.0) / (high - low)
    features = x_train.shape[1]
    return (np.full(features, smallest - low * scale, dtype=np.float64),
            np.full(features, scale, dtype=np.float64))


def check_scaling(config) -> None:
    """A DataConfig's `rescale` against its other settings (ValueError when they clash)."""
    from dlspec.data.synthetic import SYNTHETIC

    if config.rescale is None:
        return
    if config.standardize:
        raise ValueError("standardize: true and rescale both scale the features; give one "
                         "(rescale replaces standardizing)")
    if config.dataset in SYNTHETIC:
        raise ValueError(f"rescale is for tabular features; the sequences of "
                         f"'{config.dataset}' are used as generated")

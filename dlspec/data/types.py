"""The data contract between the data stage and the training stage (numpy arrays, no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np

Task = Literal["classification", "binary", "regression"]


@dataclass(frozen=True)
class Split:
    """One split: features shaped (n, *input_shape) float32, targets shaped for the loss.

    Targets are int64 class indices (n,) for classification, float32 (n, 1) for binary
    classification and float32 (n, k) for regression with k outputs.
    """

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class PreparedData:
    train: Split
    val: Split
    test: Split
    task: Task
    feature_names: list[str]
    class_names: list[str] = field(default_factory=list)  # empty for regression
    # Standardization fitted on the train split, shaped like one sample (input_shape);
    # None when standardize is off. Exported models apply it so they take raw features.
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    source: str = ""  # e.g. "builtin:digits" or the file path, for run metadata

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

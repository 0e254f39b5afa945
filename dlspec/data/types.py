"""The data contract between the data stage and the training stage (numpy arrays, no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dlspec.data.tasks import Task

if TYPE_CHECKING:
    import numpy as np

    from dlspec.data.augment_config import AugmentConfig

__all__ = ["PreparedData", "Split", "Task"]


@dataclass(frozen=True)
class Split:
    """One split: the model's inputs by name (in the model's input order), each (n,
    *input_shape), float32 features or int64 token ids, and targets shaped for the loss.

    Targets are int64 class indices (n,) for classification, float32 (n, 1) for binary
    classification, float32 0/1 (n, labels) for multilabel, float32 (n, k) for regression
    with k outputs, and int64 (n, T) for tagging and language modelling (PAD_TARGET on
    padding positions).
    """

    inputs: dict[str, np.ndarray]
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    @property
    def x(self) -> np.ndarray:
        """The samples of the split's one input (a split of a one-input model)."""
        if len(self.inputs) != 1:
            raise ValueError(f"this split has {len(self.inputs)} inputs "
                             f"({', '.join(self.inputs)}); read them from `inputs`")
        return next(iter(self.inputs.values()))

    def rows(self, index) -> Split:
        """The samples at `index` (a slice or an index array) of every field."""
        return Split({name: x[index] for name, x in self.inputs.items()}, self.y[index])


@dataclass(frozen=True)
class PreparedData:
    train: Split
    val: Split
    test: Split
    task: Task
    feature_names: list[str]
    # classes, labels (multilabel), tags or the vocabulary; empty for regression
    class_names: list[str] = field(default_factory=list)
    # Standardization fitted on the train split, shaped like one sample (input_shape), of a
    # model with one input; None when standardize is off or the model has several inputs.
    # Exported models apply it so they take raw features.
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    source: str = ""  # e.g. "builtin:digits" or the file path, for run metadata
    augment: AugmentConfig | None = None  # applied to training batches only
    # (mean, std) by input name of every standardized input (tabular fields), each fitted
    # on its own train values: with one input, the mean and std above; with several, the
    # inputs are fed standardized and these are what raw values would be scaled with.
    scaling: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # Text data (`data: {text: ...}`): the tokenizer that made the token ids, as tokenizers'
    # JSON; saved in the run folder (tokenizer.json), checkpoints and exported files.
    tokenizer: str | None = None
    text_column: str | None = None  # a CSV of texts: the column `dlspec predict` reads
    # data.sampling: how each epoch's order is drawn from the train split (class balance)
    sampling: str = "none"
    # every CSV feature column as the model reads it (table_columns.py: number, one_hot,
    # index with its train categories), when some are categorical; exported files record it
    columns: list[dict] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

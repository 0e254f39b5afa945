"""The spec's `data:` section: which dataset, how to split it, and how to prepare it."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dlspec.data.builtin import BUILTIN
from dlspec.errors import suggest

FILE_FORMATS = ("csv", "npz")
DATASET_NAMES = (*BUILTIN, *FILE_FORMATS)
Fraction = Annotated[float, Field(strict=True)]


class DataConfig(BaseModel):
    """Where the data comes from and how it is split, cleaned and scaled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(
        description="A built-in dataset (digits, iris, wine, breast_cancer, diabetes), "
        "or 'csv' / 'npz' to read your own file given by `path`."
    )
    path: str | None = Field(
        default=None,
        description="The data file for csv/npz, relative to the spec file's folder. "
        "Not allowed for built-in datasets.",
    )
    target: str | None = Field(
        default=None,
        description="CSV: the column holding the target (default: the last column). "
        "NPZ: the array holding the targets (default 'y'; features are read from 'x').",
    )
    features: list[str] | None = Field(
        default=None,
        description="CSV only: the columns to use as features, in order "
        "(default: every column but the target).",
    )
    split: list[Fraction] = Field(
        default=[0.8, 0.1, 0.1],
        description="Fractions for the train/val/test splits: three numbers >= 0 that sum "
        "to 1, train > 0. A fraction of 0 leaves that split empty.",
    )
    stratify: bool | None = Field(
        default=None,
        strict=True,
        description="Keep class proportions equal across splits. Default: on for "
        "classification, off for regression.",
    )
    standardize: bool = Field(
        default=True,
        strict=True,
        description="Z-score each feature with the train split's mean and std "
        "(a constant feature keeps std 1). Exported models include this scaling.",
    )
    missing: Literal["error", "drop", "mean", "median", "zero"] = Field(
        default="error",
        description="What to do with empty or NaN cells in csv/npz data: 'error' reports the "
        "file, row and column; 'drop' removes the row; 'mean'/'median' fill from the train "
        "split; 'zero' fills with 0. Missing targets can only be dropped.",
    )
    batch_size: int = Field(
        default=64, ge=1, strict=True, description="Samples per training batch."
    )
    shuffle: bool = Field(
        default=True, strict=True, description="Shuffle the train split every epoch."
    )
    seed: int = Field(
        default=0, ge=0, strict=True, description="Random seed of the train/val/test split."
    )
    task: Literal["classification", "binary", "regression"] | None = Field(
        default=None,
        description="The kind of target. Default: decided from the loss "
        "(cross-entropy: classification, binary cross-entropy: binary, else regression).",
    )

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, name: str) -> str:
        if name not in DATASET_NAMES:
            raise ValueError(f"unknown dataset '{name}': {suggest(name, DATASET_NAMES)}")
        return name

    @field_validator("split")
    @classmethod
    def _valid_split(cls, fractions: list[float]) -> list[float]:
        if len(fractions) != 3:
            raise ValueError(
                f"split needs exactly three fractions [train, val, test], got {len(fractions)}"
            )
        if any(not math.isfinite(f) or f < 0 for f in fractions):
            raise ValueError(f"split fractions must be finite and >= 0, got {fractions}")
        if fractions[0] <= 0:
            raise ValueError("the train fraction (the first) must be > 0")
        if abs(sum(fractions) - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1, got {fractions} = {sum(fractions):g}")
        return fractions

    @field_validator("features")
    @classmethod
    def _distinct_features(cls, names: list[str] | None) -> list[str] | None:
        if names is not None and not names:
            raise ValueError("features is empty; list at least one column or leave it out")
        if names and len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"features lists {', '.join(twice)} more than once")
        return names

    @model_validator(mode="after")
    def _fits_dataset(self) -> DataConfig:
        if self.dataset in FILE_FORMATS and self.path is None:
            raise ValueError(f"dataset '{self.dataset}' needs `path:` to the data file")
        if self.dataset in BUILTIN:
            given = [k for k in ("path", "target", "features") if getattr(self, k) is not None]
            if given:
                raise ValueError(
                    f"`{given[0]}` is only for csv/npz files; the built-in dataset "
                    f"'{self.dataset}' has fixed features and targets (remove `{given[0]}`)"
                )
        if self.dataset == "npz" and self.features is not None:
            raise ValueError("`features` selects CSV columns; npz features come from array 'x'")
        if self.stratify and self.task == "regression":
            raise ValueError("stratify needs class labels; set stratify: false for regression")
        return self

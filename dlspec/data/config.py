"""The spec's `data:` section: which dataset, how to split it, and how to prepare it."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dlspec.data.augment_config import AugmentConfig
from dlspec.data.builtin import BUILTIN
from dlspec.data.graphs import GraphParams
from dlspec.data.image_config import IMAGES, ImageFields, check_images
from dlspec.data.rescale import RESCALE_TEXT, check_rescale, check_scaling
from dlspec.data.synthetic import SYNTHETIC, SYNTHETIC_PARAMS, check_synthetic_params
from dlspec.data.table_config import TableParams, check_tables
from dlspec.data.tasks import Task
from dlspec.data.text_config import TEXT, TextFields, check_text
from dlspec.errors import suggest

FILE_FORMATS = ("csv", "npz")
DATASET_NAMES = (*BUILTIN, *SYNTHETIC, *FILE_FORMATS, IMAGES, TEXT)
Fraction = Annotated[float, Field(strict=True)]


class DataConfig(ImageFields, TextFields, GraphParams, TableParams):  # + images, text, graph
    """Where the data comes from and how it is split, cleaned and scaled."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "anyOf": [{"required": ["dataset"]}, {"required": [IMAGES]}, {"required": [TEXT]}]})

    dataset: str | None = Field(
        default=None, validate_default=True,
        description="A built-in dataset (digits, digits_multilabel, digits_shift, iris, wine, "
        "breast_cancer, diabetes), a synthetic sequence dataset generated from `seed` (copy, "
        "reverse, brackets, parity, sine, chars), generated graphs (sbm), or 'csv' / 'npz' "
        "to read your own file given by `path`. Each model input is fed from the dataset's "
        "field of its name: 'pixels' (digits, digits_multilabel), 'image' and 'shift' "
        "(digits_shift), 'features' (the other built-in ones), 'tokens' ('values' for sine), "
        "'x' and 'adjacency' (sbm), an npz file's arrays by key, a csv file's `inputs` "
        "groups; a model with one input takes a one-field dataset's field whatever its name. "
        "Left out with `images:` (your own image folder), which sets it to 'images', or with "
        "`text:` (your own text file or CSV of texts), which sets it to 'text'."
    )
    path: str | None = Field(
        default=None,
        description="The data file for csv/npz, relative to the spec file's folder. "
        "Not allowed for built-in datasets.",
    )
    target: str | list[str] | None = Field(
        default=None,
        description="CSV: the column holding the target (default: the last column), or a "
        "list of columns holding each class's probability (soft or one-hot labels, for "
        "cross_entropy or kl_div; the columns name the classes; every row sums to 1). "
        "NPZ: the array holding the targets (default 'y'). Every other array of the npz file "
        "is a field named by its key that feeds the model input of that name; a model with "
        "one input takes the file's one other array whatever its key (e.g. 'x').",
    )
    features: list[str] | None = Field(
        default=None,
        description="CSV only: the columns to use as features, in order "
        "(default: every column but the target), for a model with one input.",
    )
    inputs: dict[str, list[str]] | None = Field(
        default=None,
        description="CSV only, for a model with several inputs: the columns that feed each "
        "model input, by input name, e.g. {image: [p0, p1], meta: [age]}; each group is a "
        "field of its own (filled and standardized on its own), every group must feed an "
        "input and a column may be in one group only. Replaces `features`.",
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
    standardize: bool | None = Field(
        default=None,
        strict=True,
        description="Z-score each feature with the train split's mean and std "
        "(a constant feature keeps std 1). Exported models include this scaling. "
        "Default: on for tabular features; the synthetic sequence datasets are not scaled.",
    )
    rescale: list[float] | None = Field(default=None, description=RESCALE_TEXT)
    batch_size: int = Field(
        default=64, ge=1, strict=True, description="Samples per training batch."
    )
    shuffle: bool = Field(
        default=True, strict=True, description="Shuffle the train split every epoch."
    )
    seed: int = Field(
        default=0, ge=0, strict=True,
        description="Random seed of the train/val/test split and of the synthetic datasets.",
    )
    task: Task | None = Field(
        default=None,
        description="What to train for: classification, binary, multilabel, regression, "
        "tagging (one class per token) or language_model (next token). Default: the "
        "dataset's own task where it has only one (copy: tagging, chars: language_model, "
        "digits_multilabel: multilabel, diabetes: regression), else decided from the loss "
        "(cross-entropy: classification, binary cross-entropy: binary, else regression).",
    )
    samples: int | None = Field(
        default=None, ge=1, strict=True,
        description="Synthetic datasets: how many sequences to generate "
        "(default: copy/reverse 3000, brackets/parity 4000, sine/chars 2000; sbm: 600 "
        "graphs). text (a corpus): windows drawn from it (default: its tokens // length).",
    )
    length: int | None = Field(
        default=None, ge=2, strict=True,
        description="Synthetic datasets: tokens (or steps) per sequence, T. copy/reverse: "
        "the longest (lengths are T//2..T); brackets: even. Default: copy/reverse/parity 12, "
        "brackets 16, sine 32, chars 64; text: 64 (a corpus), 128 (a CSV).",
    )
    vocab: int | None = Field(
        default=None, ge=3, strict=True,
        description="copy/reverse: token ids are 0..vocab-1, 0 is padding (default 10). "
        "A model with several inputs is fed their seq2seq form: fields src, tgt (BOS "
        "then the target), src_mask, tgt_mask; targets: the target then EOS; BOS = vocab, "
        "EOS = vocab + 1. text with tokenizer: bpe: the vocabulary's size (default 1000).",
    )
    noise: float | None = Field(
        default=None, ge=0.0,
        description="sine: standard deviation of the gaussian noise on every value "
        "(default 0.05); sbm: on every node feature (default 1.2).",
    )
    augment: AugmentConfig | None = Field(
        default=None,
        description="Random changes to the training batches (flips, crops, rotation, "
        "colour jitter, noise, token masking, mixup); never to validation or test.",
    )

    @model_validator(mode="before")
    @classmethod
    def _source_names_the_dataset(cls, values: Any) -> Any:
        """`images:` stands for `dataset: images`, and `text:` for `dataset: text`."""
        for key in (IMAGES, TEXT):
            if not isinstance(values, dict) or values.get(key) is None:
                continue
            dataset = values.get("dataset")
            if dataset is None:
                values = {**values, "dataset": key}
            elif dataset != key:
                raise ValueError(f"give either `dataset: {dataset}` or `{key}:`, not both "
                                 f"(`{key}:` is a dataset of its own)")
        return values

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, name: str | None) -> str:
        if name is None:  # neither `dataset:` nor `images:` / `text:` (which set it)
            raise PydanticCustomError("missing", "Field required", {"hint": (
                "add `dataset:` (a built-in, synthetic or file dataset), `images:` (a folder "
                "of images) or `text:` (a text file, or a CSV file of texts and labels)")})
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

    @field_validator("rescale")
    @classmethod
    def _rescale_range(cls, bounds: list[float] | None) -> list[float] | None:
        return check_rescale(bounds)

    @model_validator(mode="after")
    def _one_scaling(self) -> DataConfig:
        check_scaling(self)
        return self

    @field_validator("features")
    @classmethod
    def _distinct_features(cls, names: list[str] | None) -> list[str] | None:
        if names is not None and not names:
            raise ValueError("features is empty; list at least one column or leave it out")
        if names and len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"features lists {', '.join(twice)} more than once")
        return names

    @field_validator("target")
    @classmethod
    def _probability_columns(cls, target: str | list[str] | None) -> str | list[str] | None:
        if isinstance(target, list):
            if len(target) < 2:
                raise ValueError("a list of target columns names one column per class (at "
                                 "least two); give one column by name for class labels")
            if len(set(target)) != len(target):
                twice = sorted({n for n in target if target.count(n) > 1})
                raise ValueError(f"target lists {', '.join(twice)} more than once")
        return target

    @field_validator("inputs")
    @classmethod
    def _column_groups(cls, groups: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        if groups is None:
            return None
        if not groups:
            raise ValueError("inputs is empty; map each model input to its columns, or "
                             "leave it out")
        seen: dict[str, str] = {}
        for name, columns in groups.items():
            if not columns:
                raise ValueError(f"inputs.{name} lists no columns; list the columns that "
                                 f"feed input '{name}'")
            for column in columns:
                if column in seen:
                    where = ("twice in the same group" if seen[column] == name else
                             f"in groups '{seen[column]}' and '{name}'")
                    raise ValueError(f"column '{column}' is {where}; a column feeds one "
                                     "input once")
                seen[column] = name
        return groups

    def synthetic_params(self) -> dict[str, int | float | None]:
        """The synthetic-dataset parameters as given (None where left out)."""
        return {key: getattr(self, key) for key in SYNTHETIC_PARAMS}

    @model_validator(mode="after")
    def _fits_dataset(self) -> DataConfig:
        check_images(self)
        check_text(self)
        if self.dataset in (IMAGES, TEXT):
            return self
        if self.dataset in FILE_FORMATS and self.path is None:
            raise ValueError(f"dataset '{self.dataset}' needs `path:` to the data file")
        if self.dataset not in FILE_FORMATS:
            given = [k for k in ("path", "target", "features", "inputs")
                     if getattr(self, k) is not None]
            if given:
                files = "csv files" if given[0] == "inputs" else "csv/npz files"
                raise ValueError(
                    f"`{given[0]}` is only for {files}; the built-in dataset "
                    f"'{self.dataset}' has fixed features and targets (remove `{given[0]}`)"
                )
        if self.dataset in SYNTHETIC:
            check_synthetic_params(self.dataset, self.synthetic_params())
            if self.standardize:
                raise ValueError(f"standardize is for tabular features; the sequences of "
                                 f"'{self.dataset}' are used as generated")
        else:
            given = [k for k, v in self.synthetic_params().items() if v is not None]
            if given:
                raise ValueError(f"`{given[0]}` is a parameter of the synthetic datasets "
                                 f"({', '.join(SYNTHETIC)}), not of '{self.dataset}'")
        if self.dataset == "npz" and self.features is not None:
            raise ValueError("`features` selects CSV columns; the arrays of an npz file feed "
                             "the model inputs named by their keys")
        if self.dataset == "npz" and self.inputs is not None:
            raise ValueError("`inputs` groups CSV columns; the arrays of an npz file feed "
                             "the model inputs named by their keys")
        if self.features is not None and self.inputs is not None:
            raise ValueError("give either `features` (the columns of a model with one input) "
                             "or `inputs` (columns by input), not both")
        if isinstance(self.target, list) and self.dataset != "csv":
            raise ValueError("a list of target columns (class probabilities) is for csv "
                             "files; name the npz array of the targets")
        check_tables(self)
        if self.stratify and self.task not in (None, "classification", "binary"):
            raise ValueError(f"stratify needs one class label per sample; set stratify: false "
                             f"for {self.task}")
        return self

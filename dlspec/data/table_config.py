"""The `data:` fields for tables (csv/npz): class imbalance, missing values, categorical
columns. Checked without numpy or torch, so `dlspec validate` reports them at their keys.

    data:
      dataset: csv
      path: patients.csv
      sampling: oversample                       # none | weighted | oversample | undersample
      missing: median                            # every column's strategy ...
      missing_columns: {smoker: most_frequent, income: -1, notes: drop}   # ... or per column
      categorical: {city: one_hot, country: index}
      unknown_category: ignore                   # error | ignore
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

Sampling = Literal["none", "weighted", "oversample", "undersample"]
MissingStrategy = Literal["error", "drop", "mean", "median", "most_frequent", "zero",
                          "constant"]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Encoding = Literal["one_hot", "index"]
# The strategies that compute a number from the train split's values of a column.
NUMERIC_ONLY = ("mean", "median")


class TableParams(BaseModel):
    """The `data:` fields of tables (`DataConfig` takes them)."""

    sampling: Sampling = Field(
        default="none",
        description="How each epoch draws the train split, for imbalanced classes: 'none' "
        "(every sample once, shuffled); 'weighted': as many draws with replacement as "
        "samples, each with probability 1 / (its class's count) (PyTorch's "
        "WeightedRandomSampler); 'oversample': every sample plus random duplicates until each "
        "class has as many as the largest (imbalanced-learn's RandomOverSampler); "
        "'undersample': of each class as many as the smallest has, drawn anew each epoch "
        "(RandomUnderSampler). The class counts before and after are printed when training "
        "starts. Classification and binary tasks only; val and test are never resampled.",
    )
    missing: MissingStrategy = Field(
        default="error",
        description="What to do with empty or NaN cells in csv/npz data: 'error' reports the "
        "file, row and column; 'drop' removes the row; 'mean'/'median'/'most_frequent' fill "
        "from the train split; 'zero' fills with 0, 'constant' with `fill_value`. Missing "
        "targets can only be dropped. `missing_columns` overrides it per column.",
    )
    fill_value: float = Field(
        default=0.0, allow_inf_nan=False,
        description="The number that missing: constant fills in (scikit-learn's "
        "SimpleImputer fill_value).",
    )
    missing_columns: dict[str, MissingStrategy | Number] | None = Field(
        default=None,
        description="CSV only: a strategy per column, by name (as `missing`), or a number to "
        "fill that column's missing cells with, e.g. {age: median, income: -1, city: "
        "most_frequent}; the other columns follow `missing`.",
    )
    categorical: dict[str, Encoding] | None = Field(
        default=None,
        description="CSV only: feature columns of text categories and how each is encoded: "
        "'one_hot' (one 0/1 column per category, in sorted order, as scikit-learn's "
        "OneHotEncoder) or 'index' (one whole number per category, 1.. in sorted order, 0 for "
        "an unknown one: for an int64 input read by an embedding, in a data.inputs group of "
        "its own). The categories are those of the train split; exported files record them, "
        "and `dlspec predict` reads the raw text.",
    )
    unknown_category: Literal["error", "ignore"] = Field(
        default="error",
        description="A category that the train split does not have (in val, test or "
        "prediction input): 'error' reports its row; 'ignore' encodes it as all zeros "
        "(one_hot) or 0 (index).",
    )

    @field_validator("missing_columns")
    @classmethod
    def _some_columns(cls, columns: dict | None) -> dict | None:
        if columns is not None and not columns:
            raise ValueError("missing_columns is empty; name a column and its strategy, or "
                             "leave it out")
        return columns

    @field_validator("categorical")
    @classmethod
    def _some_categories(cls, columns: dict | None) -> dict | None:
        if columns is not None and not columns:
            raise ValueError("categorical is empty; name a column and its encoding, or "
                             "leave it out")
        return columns


def check_tables(config) -> None:
    """The table fields against the rest of `data:` (a DataConfig); ValueError with the
    first problem."""
    csv_only = [k for k in ("missing_columns", "categorical") if getattr(config, k) is not None]
    if csv_only and config.dataset != "csv":
        raise ValueError(f"`{csv_only[0]}` names columns of a CSV file; dataset "
                         f"'{config.dataset}' has none")
    if config.sampling != "none":
        if config.task not in (None, "classification", "binary"):
            raise ValueError(f"sampling: {config.sampling} balances classes; a {config.task} "
                             "task has no class per sample (use sampling: none)")
        if not config.shuffle:
            raise ValueError(f"sampling: {config.sampling} draws a new random order every "
                             "epoch; it cannot be combined with shuffle: false")
    for column, encoding in (config.categorical or {}).items():
        strategy = (config.missing_columns or {}).get(column, "error")
        if not categorical_fill(strategy):
            what = strategy if isinstance(strategy, str) else f"the number {strategy:g}"
            raise ValueError(f"column '{column}' is categorical ({encoding}), so its missing "
                             f"cells cannot be filled with {what}; use most_frequent, drop or "
                             f"error for it (in missing_columns)")
        if encoding == "index":
            _check_index_group(config, column)
        if config.target is not None and column in _targets(config.target):
            raise ValueError(f"column '{column}' is the target; categorical encodes feature "
                             "columns (a text target is read as class labels already)")


def _check_index_group(config, column: str) -> None:
    """An index column feeds an int64 input (an embedding): a data.inputs group of index
    columns only."""
    groups = config.inputs or {}
    group = next((name for name, columns in groups.items() if column in columns), None)
    if group is None:
        raise ValueError(f"column '{column}' is encoded as an index, which feeds an embedding "
                         f"(an int64 input): put it in a data.inputs group of its own, e.g. "
                         f"inputs: {{{column}: [{column}]}}, or encode it one_hot")
    others = [c for c in groups[group] if (config.categorical or {}).get(c) != "index"]
    if others:
        raise ValueError(f"data.inputs.{group} mixes the index column '{column}' with "
                         f"'{others[0]}'; an index group holds index columns only (one int64 "
                         "input)")


def categorical_fill(strategy: str | float) -> bool:
    """Whether a strategy can fill a categorical column's missing cells."""
    return strategy in ("error", "drop", "most_frequent")


def column_strategy(config, column: str) -> str | float:
    """The missing-value strategy of a column: its own, else data.missing."""
    own = (config.missing_columns or {}).get(column)
    return config.missing if own is None else own


def _targets(target: str | list[str]) -> list[str]:
    return [target] if isinstance(target, str) else list(target)

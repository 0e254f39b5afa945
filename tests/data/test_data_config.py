"""The `data:` section's model: defaults, validation messages, JSON Schema docs."""

import re

import pytest
from pydantic import ValidationError

from dlspec.data.config import DataConfig


def error_text(**fields) -> str:
    with pytest.raises(ValidationError) as caught:
        DataConfig(**fields)
    return str(caught.value)


def test_defaults():
    config = DataConfig(dataset="iris")
    assert config.split == [0.8, 0.1, 0.1]
    assert (config.batch_size, config.seed, config.missing) == (64, 0, "error")
    assert config.standardize is None and config.shuffle is True  # None: on for tabular data
    assert config.stratify is None and config.task is None and config.augment is None
    assert (config.samples, config.length, config.vocab, config.noise) == (None,) * 4


def test_unknown_dataset_suggests_the_close_name():
    assert "did you mean 'digits'?" in error_text(dataset="digts")
    assert "one of:" in error_text(dataset="mnist")


@pytest.mark.parametrize("dataset", ["csv", "npz"])
def test_files_need_a_path(dataset):
    assert f"dataset '{dataset}' needs `path:`" in error_text(dataset=dataset)
    assert DataConfig(dataset=dataset, path="d.bin").path == "d.bin"


@pytest.mark.parametrize("field, value", [("path", "x.csv"), ("target", "y"), ("features", ["a"])])
def test_builtins_refuse_file_options(field, value):
    assert f"`{field}` is only for csv/npz files" in error_text(dataset="wine", **{field: value})


def test_npz_refuses_features():
    assert "the arrays of an npz file feed the model inputs named by their keys" in error_text(
        dataset="npz", path="d.npz", features=["a"])


@pytest.mark.parametrize("split, words", [
    ([0.8, 0.2], "exactly three fractions"),
    ([0.9, -0.1, 0.2], ">= 0"),
    ([0.0, 0.5, 0.5], "train fraction"),
    ([0.8, 0.1, 0.2], "sum to 1"),
    ([0.8, True, 0.2], "valid number"),
])
def test_bad_split(split, words):
    assert words in error_text(dataset="iris", split=split)


def test_split_accepts_ints_and_rounding_noise():
    assert DataConfig(dataset="iris", split=[1, 0, 0]).split == [1.0, 0.0, 0.0]
    assert DataConfig(dataset="iris", split=[0.7, 0.2, 0.1 + 5e-7]).split[2] == 0.1 + 5e-7


def test_features_must_be_distinct_and_non_empty():
    assert "more than once" in error_text(dataset="csv", path="d.csv", features=["a", "b", "a"])
    assert "features is empty" in error_text(dataset="csv", path="d.csv", features=[])


@pytest.mark.parametrize("fields", [
    {"batch_size": 0}, {"batch_size": True}, {"batch_size": 2.5}, {"seed": -1},
    {"standardize": 1}, {"missing": "impute"}, {"task": "ranking"}, {"epochs": 3},
])
def test_rejected_values(fields):
    error_text(dataset="iris", **fields)


def test_stratify_contradicts_regression():
    assert "set stratify: false" in error_text(dataset="diabetes", stratify=True, task="regression")


def test_stratify_contradicts_the_per_token_tasks():
    assert "for tagging" in error_text(dataset="copy", stratify=True, task="tagging")


@pytest.mark.parametrize("fields, words", [
    ({"dataset": "brackets", "vocab": 5}, "`vocab` is not a parameter of the dataset "
                                          "'brackets' (it takes samples, length)"),
    ({"dataset": "copy", "noise": 0.1}, "`noise` is for sine"),
    ({"dataset": "brackets", "length": 15}, "brackets needs an even length"),
    ({"dataset": "digits", "length": 8}, "`length` is a parameter of the synthetic datasets"),
    ({"dataset": "sine", "standardize": True}, "standardize is for tabular features"),
    ({"dataset": "chars", "path": "a.txt"}, "`path` is only for csv/npz files"),
    ({"dataset": "copy", "vocab": 2}, "greater than or equal to 3"),
    ({"dataset": "parity", "length": 1}, "greater than or equal to 2"),
])
def test_synthetic_parameters_are_checked(fields, words):
    assert words in error_text(**fields)


def test_synthetic_parameters_are_accepted():
    config = DataConfig(dataset="copy", samples=100, length=8, vocab=5)
    assert (config.samples, config.length, config.vocab) == (100, 8, 5)
    assert DataConfig(dataset="sine", noise=0.0, standardize=False).noise == 0.0


def test_augment_is_a_checked_section():
    config = DataConfig(dataset="digits", augment={"hflip": 0.5, "noise": 0.1})
    assert config.augment.active() == ("hflip", "noise")
    assert "less than or equal to 1" in error_text(dataset="digits", augment={"hflip": 2})
    assert "Extra inputs are not permitted" in error_text(dataset="digits",
                                                          augment={"flip": 0.5})


def test_config_is_frozen():
    config = DataConfig(dataset="iris")
    with pytest.raises(ValidationError):
        config.seed = 3


def test_every_field_is_documented_in_the_schema():
    properties = DataConfig.model_json_schema()["properties"]
    assert set(properties) == set(DataConfig.model_fields)
    assert all(spec.get("description") for spec in properties.values())
    assert DataConfig.model_json_schema()["additionalProperties"] is False


@pytest.mark.parametrize(("data", "words"), [
    ({"dataset": "csv", "path": "t.csv", "sampling": "weighted", "shuffle": False},
     "it cannot be combined with shuffle: false"),
    ({"dataset": "csv", "path": "t.csv", "sampling": "oversample", "task": "regression"},
     "sampling: oversample balances classes; a regression task has no class per sample"),
    ({"dataset": "npz", "path": "t.npz", "missing_columns": {"a": "mean"}},
     "`missing_columns` names columns of a CSV file; dataset 'npz' has none"),
    ({"dataset": "csv", "path": "t.csv", "categorical": {"c": "one_hot"},
      "missing_columns": {"c": "median"}}, "cannot be filled with median"),
    ({"dataset": "csv", "path": "t.csv", "target": ["p"]}, "at least two"),
    ({"dataset": "npz", "path": "t.npz", "target": ["p", "q"]}, "is for csv files"),
])
def test_table_keys_are_checked_without_the_file(data, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        DataConfig(**data)

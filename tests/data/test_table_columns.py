"""Table columns: categorical columns encoded as scikit-learn's OneHotEncoder / an index
fitted on the train split, missing values filled per column as SimpleImputer does, class
probabilities as targets (soft labels), and the located errors of each."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder

from dlspec.data.config import DataConfig
from dlspec.data.describe import ModelIO, describe_data
from dlspec.data.fields import InputIO, keys_of
from dlspec.data.prepare import prepare_data
from dlspec.data.split import split_indices
from dlspec.errors import DataError
from dlspec.train.recipe.loss_config import CrossEntropyConfig, KLDivConfig
from dlspec.train.recipe.losses import build_loss

CITIES = ["rome", "oslo", "paris", "oslo", "rome", "rome", "lima", "oslo", "", "paris"]


def held_out_row(n: int = 80) -> int:
    """A row of the test split (as prepare_data splits table(): stratified by label)."""
    return int(split_indices(n, [0.5, 0.25, 0.25], 0, np.arange(n) % 2)[2][0])


def table(tmp_path, n: int = 80, seed: int = 0) -> tuple[object, dict[str, list]]:
    """A CSV with a row id, two numeric columns with holes, a city (text, with holes; one
    row of the test split alone is 'zurich') and a colour (text), and a label; and its
    columns as written."""
    rng = np.random.default_rng(seed)
    rare = held_out_row(n)
    columns = {
        "id": list(range(n)),
        "a": [("" if i % 7 == 3 else f"{v:.3f}") for i, v in enumerate(rng.normal(size=n))],
        "b": [("" if i % 9 == 4 else f"{v:.3f}") for i, v in enumerate(rng.normal(size=n))],
        "city": [CITIES[i % len(CITIES)] if i != rare else "zurich" for i in range(n)],
        "colour": [["red", "green", "blue"][i % 3] for i in range(n)],
        "label": [["x", "y"][i % 2] for i in range(n)],
    }
    path = tmp_path / "table.csv"
    lines = [",".join(columns)] + [",".join(str(columns[c][i]) for c in columns)
                                   for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path, columns


def prepared(path, shape=None, model_inputs=(), **data):
    """prepare_data on the table; `shape` None: the width validate describes (so the two
    agree)."""
    config = DataConfig(dataset="csv", path=path.name, split=[0.5, 0.25, 0.25], **data)
    if shape is None:
        shape = (describe_data(config, path.parent, task="classification").n_features,)
    model = ModelIO(shape, (2,), inputs=tuple(model_inputs))
    return prepare_data(config, base_dir=path.parent, model=model, task="classification")


def as_float(cells) -> np.ndarray:
    return np.array([float(c) if c != "" else np.nan for c in cells])[:, None]


def test_one_hot_and_per_column_fills_equal_sklearn_fitted_on_the_train_split(tmp_path):
    path, columns = table(tmp_path)
    data = prepared(path, standardize=False, missing="median",
                    missing_columns={"b": -1.5, "city": "most_frequent"},
                    categorical={"city": "one_hot", "colour": "one_hot"},
                    unknown_category="ignore")
    train_rows = data.train.x[:, 0].astype(int)  # the id column
    city = np.array(columns["city"], dtype=object)[:, None]
    city_filler = SimpleImputer(missing_values="", strategy="most_frequent").fit(
        city[train_rows])
    city_encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(
        city_filler.transform(city[train_rows]))
    a_filler = SimpleImputer(strategy="median").fit(as_float(columns["a"])[train_rows])
    b_filled = np.nan_to_num(as_float(columns["b"]), nan=-1.5)
    colour = OneHotEncoder(sparse_output=False).fit(
        np.array(columns["colour"])[train_rows, None])
    for split in (data.train, data.val, data.test):
        rows = split.x[:, 0].astype(int)
        expected = np.concatenate([
            rows[:, None], a_filler.transform(as_float(columns["a"])[rows]), b_filled[rows],
            city_encoder.transform(city_filler.transform(city[rows])),
            colour.transform(np.array(columns["colour"])[rows, None])], axis=1)
        np.testing.assert_allclose(split.x, expected, rtol=1e-6)
    known = list(city_encoder.categories_[0])
    assert "zurich" not in known and len(data.feature_names) == 3 + 4 + 3
    assert data.feature_names[3:3 + len(known)] == [f"city={c}" for c in known]
    assert known == sorted({columns["city"][i] for i in train_rows} - {""})
    assert data.columns[3] == {"name": "city", "encoding": "one_hot", "categories": known,
                               "unknown": "ignore", "fill": city_filler.statistics_[0]}


def test_one_hot_columns_are_not_standardized(tmp_path):
    path, _ = table(tmp_path)
    data = prepared(path, missing="mean", missing_columns={"city": "most_frequent"},
                    categorical={"city": "one_hot", "colour": "one_hot"},
                    unknown_category="ignore")
    width = len(data.feature_names)
    assert data.mean[3:width].tolist() == [0.0] * (width - 3)
    assert data.std[3:width].tolist() == [1.0] * (width - 3)
    assert set(np.unique(data.train.x[:, 3:])) == {0.0, 1.0}
    assert abs(data.train.x[:, 1].mean()) < 1e-6  # a numeric column is


def test_index_columns_feed_an_int64_input_with_0_for_unknown(tmp_path):
    path, columns = table(tmp_path)
    inputs = (InputIO("numbers", (3,)), InputIO("codes", (2,), "int64", vocabulary=8))
    data = prepared(path, (3,), inputs, missing="median",
                    missing_columns={"city": "most_frequent"},
                    inputs={"numbers": ["id", "a", "b"], "codes": ["city", "colour"]},
                    categorical={"city": "index", "colour": "index"},
                    unknown_category="ignore", standardize=False)
    codes = data.train.inputs["codes"]
    assert codes.dtype == np.int64 and codes.shape[1] == 2
    city = data.columns[3]
    for split in (data.train, data.val, data.test):
        for row, (c, k) in zip(split.inputs["numbers"][:, 0].astype(int),
                               split.inputs["codes"], strict=True):
            name = columns["city"][row] or city["fill"]
            assert c == (city["categories"].index(name) + 1 if name in city["categories"]
                         else 0)
            assert k == ["blue", "green", "red"].index(columns["colour"][row]) + 1


def test_a_category_the_train_split_lacks_is_an_error_at_its_key(tmp_path):
    path, _ = table(tmp_path)
    with pytest.raises(DataError) as caught:
        prepared(path, (9,), missing="median", missing_columns={"city": "most_frequent"},
                 categorical={"city": "one_hot", "colour": "one_hot"})
    assert keys_of(caught.value) == [("data", "categorical", "city")]
    assert "column 'city' holds 'zurich'" in str(caught.value)
    assert "a category the train split does not have" in str(caught.value)


@pytest.mark.parametrize(("data", "key", "words"), [
    ({"categorical": {"town": "one_hot"}}, ("data", "categorical", "town"),
     "data.categorical names 'town', which is not a column of"),
    ({"missing_columns": {"aa": "mean"}, "categorical": {"city": "one_hot"}},
     ("data", "missing_columns", "aa"), "did you mean 'a'"),
    ({"missing": "median", "categorical": {"city": "one_hot", "colour": "one_hot"}},
     ("data", "categorical", "city"), "categorical and has missing cells, which cannot be "
     "filled with median"),
])
def test_bad_table_columns_are_located_at_their_key(tmp_path, data, key, words):
    path, _ = table(tmp_path)
    with pytest.raises(DataError) as caught:
        prepared(path, (8,), **data)
    assert keys_of(caught.value)[0] == key and words in str(caught.value)


def test_index_columns_need_a_group_of_their_own():
    with pytest.raises(ValueError, match="put it in a data.inputs group of its own"):
        DataConfig(dataset="csv", path="t.csv", categorical={"city": "index"})
    with pytest.raises(ValueError, match="mixes the index column 'city' with 'a'"):
        DataConfig(dataset="csv", path="t.csv", categorical={"city": "index"},
                   inputs={"x": ["a", "city"]})


def soft_csv(tmp_path, rows):
    path = tmp_path / "soft.csv"
    path.write_text("f1,f2,cat,dog,emu\n" + "".join(f"{i},{-i},{r}\n"
                                                  for i, r in enumerate(rows)))
    return path


SOFT = ["0.7,0.2,0.1", "0,1,0", "0.25,0.25,0.5", "1,0,0"] * 5


def test_soft_labels_train_cross_entropy_and_kl_as_torch_computes_them(tmp_path):
    path = soft_csv(tmp_path, SOFT)
    config = DataConfig(dataset="csv", path=path.name, target=["cat", "dog", "emu"])
    data = prepare_data(config, base_dir=tmp_path, model=ModelIO((2,), (3,)),
                        task="classification")
    assert data.class_names == ["cat", "dog", "emu"] and data.train.y.dtype == np.float32
    y = torch.from_numpy(np.concatenate([data.train.y, data.val.y, data.test.y]))
    assert sorted(map(tuple, y.tolist())) == sorted(
        tuple(float(np.float32(v)) for v in r.split(",")) for r in SOFT)
    logits = torch.randn(len(y), 3, generator=torch.Generator().manual_seed(0))
    loss = build_loss(CrossEntropyConfig(), "classification", 3)
    assert torch.allclose(loss(logits, y), F.cross_entropy(logits, y), atol=1e-6)
    kl = build_loss(KLDivConfig(), "regression", 3)
    log_p = logits.log_softmax(1)
    assert torch.allclose(kl(log_p, y), F.kl_div(log_p, y, reduction="batchmean"))
    regression = prepare_data(config, base_dir=tmp_path, model=ModelIO((2,), (3,)),
                              task="regression")  # kl_div's task reads them too
    assert regression.train.y.shape[1] == 3


def test_soft_label_rows_must_sum_to_one_located_at_their_line(tmp_path):
    path = soft_csv(tmp_path, [*SOFT[:5], "0.5,0.2,0.1", *SOFT[5:]])
    config = DataConfig(dataset="csv", path=path.name, target=["cat", "dog", "emu"])
    with pytest.raises(DataError) as caught:
        prepare_data(config, base_dir=tmp_path, model=ModelIO((2,), (3,)),
                     task="classification")
    assert keys_of(caught.value) == [("data", "target")]
    assert (f"{path}:7 (data row 6): the target columns cat, dog, emu sum to 0.8; class "
            "probabilities must sum to 1 (within 0.001)") in str(caught.value)
    path = soft_csv(tmp_path, [*SOFT[:2], "0.5,0.7,-0.2"])
    with pytest.raises(DataError, match="soft.csv:4 .* target column 'emu' holds '-0.2', "
                                        "which is not a probability"):
        prepare_data(config, base_dir=tmp_path, model=ModelIO((2,), (3,)),
                     task="classification")

"""prepare_data end to end: fit checks, target shapes, train-only statistics, reshapes."""

import numpy as np
import pytest

from dlspec.data import (
    DataConfig,
    ModelIO,
    describe_data,
    fit_diagnostics,
    load_builtin,
    prepare_data,
)
from dlspec.data.fields import InputIO
from dlspec.errors import DataError


def prepare(base_dir=".", input_shape=(4,), task="classification", num_outputs=3, **data):
    model = ModelIO(input_shape, (num_outputs,))
    return prepare_data(DataConfig(**data), base_dir=base_dir, model=model, task=task)


def misfit(**kwargs) -> DataError:
    with pytest.raises(DataError) as caught:
        prepare(**kwargs)
    assert set(caught.value.codes) == {"DLS402"}
    return caught.value


def id_csv(tmp_path, holes=()):
    """100 rows: feature `id` = row number, `a` = 2 * id (empty where listed), label = id % 2."""
    lines = ["id,a,label"] + [
        f"{i},{'' if i in holes else 2 * i},{'odd' if i % 2 else 'even'}" for i in range(100)]
    (tmp_path / "ids.csv").write_text("\n".join(lines) + "\n")
    return {"dataset": "csv", "path": "ids.csv", "base_dir": tmp_path,
            "input_shape": (2,), "num_outputs": 2}


def test_digits_reshaped_for_a_cnn():
    data = prepare(dataset="digits", input_shape=(1, 8, 8), num_outputs=10)
    assert (len(data.train), len(data.val), len(data.test)) == (1437, 180, 180)
    assert data.train.inputs["x"].shape == (1437, 1, 8, 8) and data.train.inputs["x"].dtype == np.float32
    assert data.test.inputs["x"].shape == (180, 1, 8, 8)
    assert data.train.y.dtype == np.int64 and data.train.y.shape == (1437,)
    assert data.class_names == list("0123456789") and data.num_classes == 10
    assert data.mean.shape == data.std.shape == (1, 8, 8)
    assert data.source == "builtin:digits" and len(data.feature_names) == 64


def test_train_split_is_standardized_with_its_own_statistics():
    data = prepare(dataset="wine", input_shape=(13,))
    assert np.allclose(data.train.inputs["x"].mean(axis=0), 0, atol=1e-5)
    assert np.allclose(data.train.inputs["x"].std(axis=0), 1, atol=1e-5)
    assert not np.allclose(data.val.inputs["x"].mean(axis=0), 0, atol=1e-3)  # val is scaled, not refitted
    assert data.mean[12] > 500 and data.std[12] > 100  # proline, in its raw units


def test_val_and_test_use_the_train_statistics(tmp_path):
    data = prepare(**id_csv(tmp_path), seed=5)
    raw_ids = {name: np.rint(split.inputs["x"][:, 0] * data.std[0] + data.mean[0]).astype(int)
               for name, split in (("train", data.train), ("val", data.val), ("test", data.test))}
    assert sorted(np.concatenate(list(raw_ids.values()))) == list(range(100))
    assert data.mean[0] == pytest.approx(raw_ids["train"].mean(), abs=1e-4)
    assert data.std[0] == pytest.approx(raw_ids["train"].std(), abs=1e-4)
    assert data.mean[1] == pytest.approx(2 * raw_ids["train"].mean(), abs=1e-3)


def test_constant_feature_keeps_std_one(tmp_path):
    (tmp_path / "c.csv").write_text("k,v,y\n" + "".join(f"7,{i},{i % 2}\n" for i in range(10)))
    data = prepare(dataset="csv", path="c.csv", base_dir=tmp_path, input_shape=(2,),
                   num_outputs=2)
    assert (data.mean[0], data.std[0]) == (7.0, 1.0)
    assert np.all(data.train.inputs["x"][:, 0] == 0)


def test_standardize_off_keeps_raw_values():
    data = prepare(dataset="iris", standardize=False)
    assert data.mean is None and data.std is None
    seen = np.concatenate([s.inputs["x"] for s in (data.train, data.val, data.test)])
    assert np.array_equal(np.sort(seen, axis=0), np.sort(load_builtin("iris").x, axis=0))


@pytest.mark.parametrize("policy", ["mean", "median", "zero"])
def test_missing_cells_are_filled_from_the_train_split(tmp_path, policy):
    holes = {3, 10, 17, 50, 91}
    data = prepare(**id_csv(tmp_path, holes), missing=policy, standardize=False)
    train_ids = data.train.inputs["x"][:, 0].astype(int)
    known = 2.0 * np.array([i for i in train_ids if i not in holes])
    expected = {"mean": known.mean(), "median": np.median(known), "zero": 0.0}[policy]
    for split in (data.train, data.val, data.test):
        filled = np.isin(split.inputs["x"][:, 0].astype(int), list(holes))
        assert np.allclose(split.inputs["x"][filled, 1], expected, atol=1e-4)
        assert np.array_equal(split.inputs["x"][~filled, 1], 2 * split.inputs["x"][~filled, 0])


def test_missing_drop_and_error(tmp_path):
    setup = id_csv(tmp_path, holes={4, 8})
    data = prepare(**setup, missing="drop")
    assert len(data.train) + len(data.val) + len(data.test) == 98
    with pytest.raises(DataError) as caught:
        prepare(**setup)
    assert caught.value.codes == ["DLS401"]
    assert "ids.csv:6 (data row 5): column 'a' is missing (1 more cell(s)" in str(caught.value)


def test_text_labels_become_classes_and_are_stratified(tmp_path):
    data = prepare(**id_csv(tmp_path))
    assert data.class_names == ["even", "odd"]
    assert [np.bincount(s.y).tolist() for s in (data.train, data.val, data.test)] == [
        [40, 40], [5, 5], [5, 5]]
    assert np.all(data.train.y == (data.train.inputs["x"][:, 0] * data.std[0] + data.mean[0]).round() % 2)


def test_classification_stratifies_by_default():
    data = prepare(dataset="iris")
    for split, per_class in ((data.train, 40), (data.val, 5), (data.test, 5)):
        assert np.bincount(split.y).tolist() == [per_class] * 3


def test_same_seed_same_data():
    a, b = prepare(dataset="iris", seed=3), prepare(dataset="iris", seed=3)
    assert np.array_equal(a.val.inputs["x"], b.val.inputs["x"]) and np.array_equal(a.test.y, b.test.y)


def test_binary_targets_are_float_columns():
    data = prepare(dataset="breast_cancer", input_shape=(30,), task="binary", num_outputs=1)
    assert data.train.y.shape == (455, 1) and data.train.y.dtype == np.float32
    assert set(np.unique(data.train.y)) == {0.0, 1.0}
    assert data.class_names == ["malignant", "benign"]
    total_benign = sum(float(s.y.sum()) for s in (data.train, data.val, data.test))
    assert total_benign == 357


def test_regression_targets_are_float_columns():
    data = prepare(dataset="diabetes", input_shape=(10,), task="regression", num_outputs=1)
    assert data.train.y.shape == (354, 1) and data.train.y.dtype == np.float32
    assert data.class_names == [] and data.num_classes == 0


def test_multilabel_targets_are_zero_one_columns():
    data = prepare(dataset="digits_multilabel", input_shape=(64,), task="multilabel",
                   num_outputs=3)
    digits = load_builtin("digits")
    assert data.class_names == ["even", "at_least_5", "prime"] and data.num_classes == 3
    assert data.train.y.shape == (1437, 3) and data.train.y.dtype == np.float32
    # the same images in the same order as digits: check the labels against the digit
    raw = load_builtin("digits_multilabel")
    assert np.array_equal(raw.x, digits.x)
    expected = np.stack([digits.y % 2 == 0, digits.y >= 5, np.isin(digits.y, (2, 3, 5, 7))], 1)
    assert np.array_equal(raw.y, expected.astype(np.float32))


def test_npz_zero_one_columns_read_as_labels_or_numbers(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "m.npz", x=rng.normal(size=(40, 5)), y=rng.integers(0, 2, (40, 4)))
    setup = {"dataset": "npz", "path": "m.npz", "base_dir": tmp_path, "input_shape": (5,),
             "num_outputs": 4, "split": [0.5, 0.5, 0.0]}
    labels = prepare(**setup, task="multilabel")
    assert labels.class_names == [f"label_{j}" for j in range(4)]
    assert labels.train.y.shape == (20, 4) and set(np.unique(labels.train.y)) == {0.0, 1.0}
    assert prepare(**setup, task="regression").class_names == []
    error = misfit(**setup, task="binary")
    assert "4 0/1 labels per sample, but the task is binary" in str(error)
    assert "multilabel or regression" in error.diagnostics[0].hint


def test_npz_regression_with_several_outputs(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "r.npz", x=rng.normal(size=(50, 2, 3)), y=rng.normal(size=(50, 3)))
    data = prepare(dataset="npz", path="r.npz", base_dir=tmp_path, input_shape=(2, 3),
                   task="regression", num_outputs=3, split=[0.6, 0.4, 0.0])
    assert data.train.inputs["x"].shape == (30, 2, 3) and data.train.y.shape == (30, 3)
    assert len(data.test) == 0 and data.test.inputs["x"].shape == (0, 2, 3)
    error = misfit(dataset="npz", path="r.npz", base_dir=tmp_path, input_shape=(6,),
                   task="regression", num_outputs=2)
    assert "has 3 target column(s), but the model has 2 outputs" in str(error)


@pytest.mark.parametrize("kwargs, words, hint", [
    ({"dataset": "digits", "input_shape": (64,), "num_outputs": 3},
     "digits has 10 classes, but the model has 3 outputs", "out_features to 10"),
    ({"dataset": "digits", "input_shape": (1, 7, 7), "num_outputs": 10},
     "input shape [1, 7, 7] takes 49 values per sample, but digits has 64 features", "to 64"),
    ({"dataset": "iris", "task": "binary", "num_outputs": 1},
     "needs exactly two classes, but iris has 3", "out_features to 3"),
    ({"dataset": "breast_cancer", "input_shape": (30,), "task": "binary", "num_outputs": 2},
     "takes one output (a logit), but the model has 2", "out_features to 1"),
    ({"dataset": "diabetes", "input_shape": (10,), "num_outputs": 3},
     "diabetes has continuous targets, but the task is classification", "regression loss"),
    ({"dataset": "iris", "task": "regression", "num_outputs": 1},
     "iris holds class labels (3 classes), but the task is regression", "classification loss"),
    ({"dataset": "diabetes", "input_shape": (10,), "task": "regression", "stratify": True,
      "num_outputs": 1}, "stratify: true needs class labels", "stratify: false"),
])
def test_model_and_data_misfits_are_dls402(kwargs, words, hint):
    error = misfit(**kwargs)
    assert words in str(error) and hint in error.diagnostics[0].hint


def test_every_misfit_is_reported_at_once():
    error = misfit(dataset="digits", input_shape=(32,), num_outputs=9)
    assert error.codes == ["DLS402", "DLS402"]


def test_numeric_csv_targets_read_as_classes_or_numbers(tmp_path):
    (tmp_path / "n.csv").write_text("a,y\n" + "".join(f"{i},{i % 3 * 2}\n" for i in range(30)))
    (tmp_path / "f.csv").write_text("a,y\n" + "".join(f"{i},{i / 7}\n" for i in range(30)))
    setup = {"dataset": "csv", "base_dir": tmp_path, "input_shape": (1,)}
    data = prepare(path="n.csv", **setup, num_outputs=3)
    assert data.class_names == ["0", "2", "4"] and set(data.train.y.tolist()) == {0, 1, 2}
    regression = prepare(path="n.csv", **setup, task="regression", num_outputs=1)
    assert set(np.unique(regression.train.y)) == {0.0, 2.0, 4.0}
    assert "continuous targets" in str(misfit(path="f.csv", **setup, num_outputs=3))


def test_describe_data_reports_what_validate_needs(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,c,kind\n1,2,3,x\n4,5,6,y\n7,8,9,x\n")
    info = describe_data(DataConfig(dataset="csv", path="d.csv", target="kind"), tmp_path)
    assert (info.n_features, info.task, info.class_names) == (3, "classification", ("x", "y"))
    assert info.feature_names == ("a", "b", "c") and info.n_samples == 3
    assert fit_diagnostics(info, ModelIO((3,), (1,)), "binary") == []
    assert [d.code for d in fit_diagnostics(info, ModelIO((4,), (3,)), "classification")] == [
        "DLS402"] * 2
    (tmp_path / "n.csv").write_text("a,y\n1,0\n2,1\n")
    numeric = describe_data(DataConfig(dataset="csv", path="n.csv"), tmp_path)
    assert (numeric.task, numeric.class_names, numeric.n_targets) == (None, ("0", "1"), 1)


def test_missing_data_file_is_dls401(tmp_path):
    with pytest.raises(DataError) as caught:
        prepare(dataset="csv", path="gone.csv", base_dir=tmp_path)
    assert caught.value.codes == ["DLS401"] and "gone.csv does not exist" in str(caught.value)


def test_augment_misfits_are_reported_when_loading():
    with pytest.raises(DataError) as caught:
        prepare(dataset="iris", augment={"hflip": 0.5})
    assert "data.augment.hflip" in str(caught.value)
    data = prepare(dataset="iris", augment={"noise": 0.1})
    assert data.augment.noise == 0.1


def two_inputs(*inputs):
    first = inputs[0]
    return ModelIO(first.shape, (2,), first.dtype, input_name=first.name, inputs=inputs)


def test_every_input_is_built_from_its_field_in_the_models_order(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", ids=rng.integers(0, 9, (50, 3)),
             wide=rng.normal(5.0, 3.0, (50, 2, 2)), y=np.arange(50) % 2)
    model = two_inputs(InputIO("wide", (4,)), InputIO("ids", (3,), "int64", 9))
    data = prepare_data(DataConfig(dataset="npz", path="d.npz"), base_dir=tmp_path,
                        model=model, task="classification")
    assert list(data.train.inputs) == ["wide", "ids"]  # the model's order, not the file's
    wide, ids = data.train.inputs["wide"], data.train.inputs["ids"]
    assert wide.shape == (40, 4) and wide.dtype == np.float32
    assert np.allclose(wide.mean(axis=0), 0, atol=1e-5)  # standardized per field
    assert ids.dtype == np.int64 and ids.max() <= 8  # whole numbers as they are
    assert set(data.scaling) == {"wide"} and data.scaling["wide"][0].shape == (4,)
    assert data.mean is None and data.std is None  # one input only: see PreparedData.scaling
    raw = np.load(tmp_path / "d.npz")
    rows = [np.flatnonzero((raw["ids"] == row).all(axis=1))[0] for row in data.test.inputs["ids"]]
    mean, std = data.scaling["wide"]
    assert np.allclose(data.test.inputs["wide"] * std + mean,
                       raw["wide"][rows].reshape(-1, 4), atol=1e-4)  # rows stay together


def test_csv_groups_are_filled_and_standardized_each_with_its_train_statistics(tmp_path):
    lines = ["a,b,c,label"] + [f"{i},{'' if i == 3 else 100 * i},{i % 7},{i % 2}"
                               for i in range(60)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    config = DataConfig(dataset="csv", path="t.csv", inputs={"big": ["b"], "small": ["a", "c"]},
                        missing="mean")
    model = two_inputs(InputIO("small", (2,)), InputIO("big", (1, 1)))
    data = prepare_data(config, base_dir=tmp_path, model=model, task="classification")
    assert data.train.inputs["big"].shape == (48, 1, 1)
    assert data.scaling["big"][0].shape == (1, 1) and data.scaling["big"][1][0, 0] > 1000
    assert not np.isnan(np.concatenate([s.inputs["big"].ravel()
                                        for s in (data.train, data.val, data.test)])).any()


def test_one_input_keeps_mean_and_std_and_is_fed_whatever_its_name():
    data = prepare(dataset="iris")
    assert list(data.train.inputs) == ["x"] and data.mean.shape == (4,)
    assert data.scaling["x"][0] is data.mean

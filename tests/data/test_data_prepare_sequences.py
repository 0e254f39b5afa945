"""prepare_data on sequence datasets: kept as generated, per-token targets, ordered splits."""

import numpy as np

from dlspec.data import DataConfig, ModelIO, prepare_data


def sequence(dataset, model, task, **data):
    return prepare_data(DataConfig(dataset=dataset, **data), base_dir=".", model=model,
                        task=task)


def test_token_sequences_are_kept_as_generated_and_stratified():
    model = ModelIO(("seq",), (2,), "int64", 3)
    data = sequence("brackets", model, "classification", samples=1000)
    assert data.train.inputs["x"].shape == (800, 16) and data.train.inputs["x"].dtype == np.int64
    assert data.mean is None and data.std is None  # ids are not scaled
    assert [np.bincount(s.y).tolist() for s in (data.train, data.val, data.test)] == [
        [400, 400], [50, 50], [50, 50]]
    assert data.source == "synthetic:brackets" and data.class_names == ["unbalanced", "balanced"]


def test_tagging_targets_are_per_token_with_padding_skipped():
    data = sequence("reverse", ModelIO(("seq",), ("seq", 10), "int64", 10), "tagging")
    assert data.train.y.shape == data.train.inputs["x"].shape == (2400, 12)
    assert data.train.y.dtype == np.int64 and (data.train.y == -100).any()
    assert np.array_equal(data.train.y == -100, data.train.inputs["x"] == 0)


def test_language_model_splits_are_cut_in_text_order():
    model = ModelIO(("seq",), ("seq", 49), "int64", 49)
    data = sequence("chars", model, "language_model", samples=200, length=16)
    assert (len(data.train), len(data.val), len(data.test)) == (160, 20, 20)
    train_text = {tuple(w) for w in data.train.inputs["x"]}
    assert not train_text & {tuple(w) for w in data.val.inputs["x"]}  # no val window is trained on
    assert np.array_equal(data.val.inputs["x"][:, 1:], data.val.y[:, :-1])


def test_series_regression_targets():
    data = sequence("sine", ModelIO(("seq", 1), (1,)), "regression", samples=100)
    assert data.train.inputs["x"].shape == (80, 32, 1) and data.train.y.shape == (80, 1)
    assert data.class_names == [] and data.mean is None


"""CSV and NPZ loading: columns, labels, missing cells, refused pickles, located errors."""

import numpy as np
import pytest

from dlspec.data.files import load_csv, load_npz
from dlspec.errors import DataError


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def load_error(loader, *args, **kwargs) -> DataError:
    with pytest.raises(DataError) as caught:
        loader(*args, **kwargs)
    assert caught.value.codes == ["DLS401"]
    return caught.value


def test_csv_defaults_to_last_column_as_target(tmp_path):
    path = write(tmp_path, "a,b,price\n1,2,10.5\n3,4.5,20\n")
    x, y, features, classes, _ = load_csv(path)
    assert x.dtype == np.float32 and x.tolist() == [[1, 2], [3, 4.5]]
    assert y.tolist() == [10.5, 20.0] and features == ["a", "b"] and classes == []


def test_csv_named_target_and_feature_subset(tmp_path):
    path = write(tmp_path, "label, a ,b,c\n1,2,3,4\n0,5,6,7\n")
    x, y, features, _, _ = load_csv(path, target="label", features=["c", "a"])
    assert x.tolist() == [[4, 2], [7, 5]] and y.tolist() == [1.0, 0.0] and features == ["c", "a"]


def test_csv_text_target_gives_sorted_class_names(tmp_path):
    path = write(tmp_path, "x,kind\n1,dog\n2,cat\n3,emu\n4,cat\n")
    _, y, _, classes, _ = load_csv(path)
    assert classes == ["cat", "dog", "emu"]
    assert y.dtype == np.int64 and y.tolist() == [1, 0, 2, 0]


def test_non_numeric_feature_names_line_and_column(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,0\n3,abc,1\n")
    error = load_error(load_csv, path)
    assert f"{path}:3 (data row 2): column 'b' holds 'abc'" in str(error)
    assert "data.features" in error.diagnostics[0].hint


def test_infinite_feature_is_refused(tmp_path):
    assert "not a finite number" in str(load_error(load_csv, write(tmp_path, "a,y\ninf,1\n")))


def test_missing_cells_error_names_file_line_and_column(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,0\n3,,1\n5,NaN,1\n")
    error = load_error(load_csv, path)
    assert f"{path}:3 (data row 2): column 'b' is missing (1 more cell(s) are missing)" in str(error)
    assert "data.missing" in error.diagnostics[0].hint


def test_missing_drop_removes_rows(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,0\n3,,1\n5,6,NA\n7,8,1\n")
    x, y, _, _, _ = load_csv(path, missing="drop")
    assert x.tolist() == [[1, 2], [7, 8]] and y.tolist() == [0.0, 1.0]


@pytest.mark.parametrize("policy", ["mean", "median", "zero"])
def test_filling_policies_keep_nan_for_the_prepare_step(tmp_path, policy):
    x, _, _, _, _ = load_csv(write(tmp_path, "a,b,y\n1,2,0\n3,null,1\n"), missing=policy)
    assert x[0].tolist() == [1, 2] and x[1, 0] == 3 and np.isnan(x[1, 1])


@pytest.mark.parametrize("policy", ["error", "mean", "median", "zero"])
def test_missing_target_can_only_be_dropped(tmp_path, policy):
    path = write(tmp_path, "a,y\n1,cat\n2,\n3,dog\n")
    error = load_error(load_csv, path, missing=policy)
    assert f"{path}:3 (data row 2): the target 'y' is missing" in str(error)
    x, y, _, classes, _ = load_csv(path, missing="drop")
    assert x.tolist() == [[1], [3]] and y.tolist() == [0, 1] and classes == ["cat", "dog"]


def test_drop_everything_is_an_error(tmp_path):
    assert "nothing is left" in str(load_error(load_csv, write(tmp_path, "a,y\n,1\n"), missing="drop"))


@pytest.mark.parametrize("text, words", [
    ("", "is empty"),
    ("1,2,3\n4,5,6\n", "looks like data"),
    ("a,y\n", "no data rows"),
    ("a,a,y\n1,2,3\n", "more than once"),
    (",a,y\n0,2,3\n", "column 1 of the header has no name"),
    ("a,b,y\n1,2,3\n4,5\n", ":3: 2 cells, but the header names 3 columns"),
])
def test_malformed_csv(tmp_path, text, words):
    assert words in str(load_error(load_csv, write(tmp_path, text)))


def test_unknown_columns_suggest_names(tmp_path):
    path = write(tmp_path, "width,height,label\n1,2,0\n")
    assert "did you mean 'label'?" in str(load_error(load_csv, path, target="lable"))
    assert "did you mean 'height'?" in str(load_error(load_csv, path, features=["hieght"]))
    assert "both the target and a feature" in str(
        load_error(load_csv, path, target="label", features=["label"]))


def test_missing_file_names_the_path(tmp_path):
    error = load_error(load_csv, tmp_path / "nope.csv")
    assert f"{tmp_path / 'nope.csv'} does not exist" in str(error)
    assert "relative to the spec file" in error.diagnostics[0].hint
    assert "does not exist" in str(load_error(load_npz, tmp_path / "nope.npz"))


def test_npz_flattens_features_and_keeps_numeric_targets(tmp_path):
    path = tmp_path / "d.npz"
    images = np.arange(24, dtype=np.uint8).reshape(3, 2, 2, 2)
    np.savez(path, x=images, y=np.array([[0.5, 1.0], [1.5, 2.0], [2.5, 3.0]]))
    x, y, features, classes, _ = load_npz(path)
    assert x.shape == (3, 8) and x.dtype == np.float32 and x[1].tolist() == list(range(8, 16))
    assert y.shape == (3, 2) and features[:3] == ["x0", "x1", "x2"] and classes == []


def test_npz_custom_target_key_and_text_labels(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((3, 2)), labels=np.array(["b", "a", "b"]))
    _, y, _, classes, _ = load_npz(path, y_key="labels")
    assert y.tolist() == [1, 0, 1] and classes == ["a", "b"]
    assert "did you mean 'labels'?" in str(load_error(load_npz, path, y_key="label"))


def test_npz_refuses_object_arrays(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.array([[1.0], [2.0]], dtype=object), y=np.array([0, 1]))
    error = load_error(load_npz, path)
    assert "holds Python objects (dtype=object)" in str(error)
    assert "does not load pickled data" in str(error)


def test_npz_refuses_a_pickled_npy_file(tmp_path):
    path = tmp_path / "d.npz"
    with path.open("wb") as handle:
        np.save(handle, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    assert "cannot be read as an .npz archive" in str(load_error(load_npz, path))


def test_npz_refuses_single_arrays_and_non_archives(tmp_path):
    single = tmp_path / "one.npy"
    np.save(single, np.ones((2, 2)))
    assert "single array" in str(load_error(load_npz, single))
    assert "cannot be read" in str(load_error(load_npz, write(tmp_path, "a,b\n", "d.npz")))


@pytest.mark.parametrize("x, y, words", [
    (np.ones((3, 2)), np.zeros(4), "one number or label per sample (3 samples)"),
    (np.array(["a", "b"]), np.zeros(2), "non-empty numeric array"),
    (np.array([[np.inf], [1.0]]), np.zeros(2), "infinite"),
])
def test_npz_bad_arrays(tmp_path, x, y, words):
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=y)
    assert words in str(load_error(load_npz, path))


def test_npz_missing_values_follow_the_policy(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.array([[1.0, np.nan], [2.0, 3.0]]), y=np.array([0.0, 1.0]))
    assert "sample 0: column 'x1' is missing" in str(load_error(load_npz, path))
    x, y, _, _, _ = load_npz(path, missing="drop")
    assert x.tolist() == [[2.0, 3.0]] and y.tolist() == [1.0]


def test_every_npz_array_but_the_target_is_a_field_named_by_its_key(tmp_path):
    path = tmp_path / "d.npz"
    ids = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int16)
    np.savez(path, image=np.arange(8, dtype=np.float64).reshape(2, 2, 2), ids=ids,
             y=np.array([0, 1]))
    raw = load_npz(path)
    assert list(raw.fields) == ["image", "ids"]  # the file's order
    assert raw.fields["image"].shape == (2, 2, 2) and raw.fields["image"].dtype == np.float32
    assert raw.fields["ids"].dtype == np.int64 and raw.fields["ids"].tolist() == ids.tolist()
    assert raw.x.shape == (2, 7) and raw.x[1].tolist() == [4, 5, 6, 7, 4, 5, 6]
    assert raw.feature_names == ["image0", "image1", "image2", "image3", "ids0", "ids1", "ids2"]


def test_npz_fields_need_one_row_per_sample_and_the_targets_a_field(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, a=np.ones((3, 2)), b=np.ones((2, 2)), y=np.zeros(3))
    assert str(load_error(load_npz, path)).endswith(
        f"array 'b' in {path} has 2 rows, but the arrays before it have 3 (one row per sample)")
    np.savez(path, y=np.zeros(3))
    error = load_error(load_npz, path)
    assert f"{path} has no arrays besides the targets 'y'" in str(error)


def test_npz_drop_removes_the_row_from_every_field(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, a=np.array([[1.0], [np.nan], [3.0]]), b=np.array([[7], [8], [9]]),
             y=np.array([0, 1, 0]))
    assert "sample 1: column 'a0' is missing" in str(load_error(load_npz, path))
    raw = load_npz(path, missing="drop")
    assert raw.fields["a"].tolist() == [[1.0], [3.0]] and raw.fields["b"].tolist() == [[7], [9]]


def test_csv_column_groups_are_fields(tmp_path):
    path = write(tmp_path, "a,b,c,y\n1,2,3,0\n4,,6,1\n7,8,9,0\n")
    raw = load_csv(path, groups={"late": ["c", "b"], "early": ["a"]}, missing="drop")
    assert raw.feature_names == ["c", "b", "a"]
    assert {k: v.tolist() for k, v in raw.fields.items()} == {
        "late": [[3, 2], [9, 8]], "early": [[1], [7]]}
    with pytest.raises(DataError) as caught:
        load_csv(path, groups={"late": ["c", "bb"], "early": ["y"]})
    assert [(d.code, d.message, d.hint) for d in caught.value.diagnostics] == [
        ("DLS401", f"{path} has no column 'bb' (in data.inputs.late)", "did you mean 'b'?"),
        ("DLS401", f"{path}: column 'y' is both the target and in data.inputs.early",
         "remove it from data.inputs.early, or name another target column in data.target")]
    assert caught.value.keys == [("data", "inputs", "late", 1), ("data", "inputs", "early", 0)]

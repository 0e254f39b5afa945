"""Built-in datasets: the static table must match what scikit-learn really ships."""

import subprocess
import sys

import numpy as np
import pytest

from dlspec.data.builtin import BUILTIN, FieldInfo, load_builtin
from dlspec.errors import DataError

EXPECTED_SIZES = {
    "digits": (1797, 64, 10), "iris": (150, 4, 3), "wine": (178, 13, 3),
    "breast_cancer": (569, 30, 2), "diabetes": (442, 10, 0),
}
SKLEARN = sorted(EXPECTED_SIZES)  # loaded as scikit-learn ships them


@pytest.mark.parametrize("name", SKLEARN)
def test_static_table_matches_sklearn(name):
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    info = BUILTIN[name]
    assert info.name == name
    assert (info.n_samples, info.n_features) == bunch.data.shape
    assert list(info.feature_names) == [str(f) for f in bunch.feature_names]
    if info.task == "classification":
        assert list(info.class_names) == [str(c) for c in bunch.target_names]
        assert sorted(np.unique(bunch.target)) == list(range(len(info.class_names)))
    else:
        assert info.class_names == () and bunch.target.dtype.kind == "f"
    assert (info.n_samples, info.n_features, info.num_classes) == EXPECTED_SIZES[name]


@pytest.mark.parametrize("name", SKLEARN)
def test_load_builtin_shapes_and_types(name):
    x, y, feature_names, class_names, _ = load_builtin(name)
    n, f, k = EXPECTED_SIZES[name]
    assert x.shape == (n, f) and x.dtype == np.float32
    assert y.shape == (n,) and len(feature_names) == f and len(class_names) == k
    if k:
        assert y.dtype == np.int64 and set(np.unique(y)) == set(range(k))
    else:
        assert y.dtype == np.float64 and (y.min(), y.max()) == (25.0, 346.0)


def test_digits_multilabel_labels_each_digit():
    info = BUILTIN["digits_multilabel"]
    assert (info.task, info.n_targets, info.n_features) == ("multilabel", 3, 64)
    x, y, _, labels, _ = load_builtin("digits_multilabel")
    assert labels == ["even", "at_least_5", "prime"] and x.shape == (1797, 64)
    digits = load_builtin("digits").y
    for digit, row in ((0, [1, 0, 0]), (2, [1, 0, 1]), (5, [0, 1, 1]), (8, [1, 1, 0]),
                       (9, [0, 1, 0])):
        assert (y[digits == digit] == row).all()


def test_digits_class_names_are_the_digits():
    assert BUILTIN["digits"].class_names == tuple("0123456789")
    assert BUILTIN["breast_cancer"].class_names == ("malignant", "benign")


def test_unknown_builtin_is_dls401():
    with pytest.raises(DataError) as caught:
        load_builtin("irsi")
    assert caught.value.codes == ["DLS401"]
    assert "did you mean 'iris'?" in str(caught.value)


def test_describing_builtins_needs_neither_sklearn_nor_torch():
    code = (
        "import sys; from pathlib import Path\n"
        "from dlspec.data import DataConfig, describe_data\n"
        "info = describe_data(DataConfig(dataset='digits'), Path('.'))\n"
        "assert (info.n_features, info.num_classes) == (64, 10)\n"
        "assert 'sklearn' not in sys.modules and 'torch' not in sys.modules, 'imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_each_built_in_dataset_names_its_one_field():
    fields = {name: dict(info.fields) for name, info in BUILTIN.items()}
    assert fields["digits"] == fields["digits_multilabel"] == {
        "pixels": FieldInfo((64,), "float32", tabular=True)}
    assert {name: list(f) for name, f in fields.items() if not name.startswith("digits")} == {
        "iris": ["features"], "wine": ["features"], "breast_cancer": ["features"],
        "diabetes": ["features"]}
    assert fields["wine"]["features"].shape == (13,)


def test_digits_shift_has_two_fields_and_its_label_needs_both():
    info, raw = BUILTIN["digits_shift"], load_builtin("digits_shift")
    assert dict(info.fields) == {"image": FieldInfo((64,), tabular=True),
                                 "shift": FieldInfo((1,), tabular=True)}
    image, shift, y = raw.fields["image"], raw.fields["shift"][:, 0], raw.y
    assert image.shape == (info.n_samples, 64) and raw.x.shape == (info.n_samples, 65)
    assert np.array_equal(raw.x[:, :64], image) and raw.feature_names[-1] == "shift"
    digits = load_builtin("digits")
    first, second = np.split(np.arange(len(y)), 2)  # every image once per shift
    assert np.array_equal(image[first], digits.x) and np.array_equal(image[second], digits.x)
    assert set(shift[first]) == {0.0} and set(shift[second]) == {5.0}
    assert np.array_equal(y[first], digits.y) and np.array_equal(y[second], (digits.y + 5) % 10)
    assert np.bincount(y).min() > 340  # the shift alone tells no class: all ten balanced

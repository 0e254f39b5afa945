"""Built-in datasets that ship inside scikit-learn (no network), plus their static metadata.

`BUILTIN` describes every built-in dataset with constants, so a spec can be checked against
its data without importing scikit-learn; `load_builtin` imports scikit-learn lazily. The
synthetic sequence datasets are in synthetic.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    import numpy as np

from dlspec.errors import DataError, Diagnostic, suggest

TargetKind = Literal["classification", "regression", "multilabel", "tagging", "language_model"]
FieldDtype = Literal["float32", "int64"]


@dataclass(frozen=True)
class FieldInfo:
    """One named per-sample array of a dataset, as a model input is checked against it.

    `shape` is one sample's shape. `dtype` int64 holds whole numbers (token ids 0..vocab_size-1
    when `vocab_size` > 0). A `tabular` field holds numbers of a table or a file: it feeds a
    float32 input of any shape with as many values (reshaped, and standardized unless
    data.standardize is false), or, when int64, an int64 input of its own shape as it is. A
    field that is not tabular (a sequence dataset's) feeds an input of its shape and dtype.
    """

    shape: tuple[int, ...]
    dtype: FieldDtype = "float32"
    vocab_size: int = 0
    tabular: bool = False


@dataclass(frozen=True)
class DatasetInfo:
    """What a spec must agree with: the features and the kind of target of a dataset.

    `task` is "classification" when the targets are class labels (a two-class dataset also
    fits a binary task), "regression" when they are continuous, "multilabel" when each
    sample has one 0/1 column per label (`class_names` are the labels), "tagging" and
    "language_model" for one class per token; and None when they are whole numbers that
    could be read either way (a numeric CSV column, or 0/1 columns that may be labels);
    then `class_names` lists the distinct values (or the columns) as they would be read.

    `sample_shape` is None for tabular data (its `n_features` are reshaped to the model's
    input); sequence data keeps its own shape, (T,) token ids when `vocab_size` > 0 (ids
    0..vocab_size-1, 0 is padding) or (T, F) float values.

    `fields` names the per-sample arrays model inputs are fed from (see dlspec/data/fields.py);
    left empty, the dataset has one field, `x`, described by the attributes above.
    """

    name: str
    n_features: int
    task: TargetKind | None
    class_names: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()
    n_samples: int | None = None
    n_targets: int = 1  # target columns for regression and multilabel
    sample_shape: tuple[int, ...] | None = None
    vocab_size: int = 0
    fields: Mapping[str, FieldInfo] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.fields:
            shape = self.sample_shape or (self.n_features,)
            dtype = "int64" if self.vocab_size else "float32"
            only = FieldInfo(shape, dtype, self.vocab_size, tabular=self.sample_shape is None)
            object.__setattr__(self, "fields", {"x": only})

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


class RawData(NamedTuple):
    """Loaded data before splitting: x float32 (n, f), NaN where a cell was missing.

    `fields` holds the named per-sample arrays of a dataset with several (each (n, ...),
    float32 with NaN where missing, or int64); then x is their values side by side, flattened,
    and `feature_names` names those columns. Empty: the dataset's one field is x.

    y holds int64 class indices into `class_names` when the dataset names its classes, and
    numbers (n,) or (n, k) otherwise. Sequence data keeps its sample shape: x int64 token
    ids (n, T) or float32 (n, T, F), y per sequence or per token (n, T).
    """

    x: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    fields: Mapping[str, np.ndarray] = {}  # noqa: RUF012 (never mutated)


_WINE = (
    "alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
    "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
    "od280/od315_of_diluted_wines", "proline",
)
_CANCER_MEASURES = (
    "radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
    "concave points", "symmetry", "fractal dimension",
)
_CANCER = (
    *(f"mean {m}" for m in _CANCER_MEASURES),
    *(f"{m} error" for m in _CANCER_MEASURES),
    *(f"worst {m}" for m in _CANCER_MEASURES),
)

BUILTIN: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(
        name="digits", n_samples=1797, n_features=64, task="classification",
        class_names=tuple(str(d) for d in range(10)),
        feature_names=tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8)),
    ),
    "iris": DatasetInfo(
        name="iris", n_samples=150, n_features=4, task="classification",
        class_names=("setosa", "versicolor", "virginica"),
        feature_names=(
            "sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)",
        ),
    ),
    "wine": DatasetInfo(
        name="wine", n_samples=178, n_features=13, task="classification",
        class_names=("class_0", "class_1", "class_2"), feature_names=_WINE,
    ),
    "breast_cancer": DatasetInfo(
        name="breast_cancer", n_samples=569, n_features=30, task="classification",
        class_names=("malignant", "benign"), feature_names=_CANCER,
    ),
    "diabetes": DatasetInfo(
        name="diabetes", n_samples=442, n_features=10, task="regression",
        feature_names=("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"),
    ),
}
# The digits with three 0/1 labels each instead of one class: is the digit even, is it at
# least 5, is it prime. A multi-label dataset from real images.
DIGIT_LABELS = {"even": (0, 2, 4, 6, 8), "at_least_5": (5, 6, 7, 8, 9), "prime": (2, 3, 5, 7)}
BUILTIN["digits_multilabel"] = DatasetInfo(
    name="digits_multilabel", n_samples=1797, n_features=64, task="multilabel",
    class_names=tuple(DIGIT_LABELS), feature_names=BUILTIN["digits"].feature_names,
    n_targets=len(DIGIT_LABELS),
)


# The one field of each built-in dataset, that a model input is fed from: the pixels of the
# digits, the features (measurements) of the others (digits_shift, below, has two).
BUILTIN_FIELDS = {name: "pixels" if name.startswith("digits") else "features" for name in BUILTIN}
BUILTIN.update({name: replace(info, fields={BUILTIN_FIELDS[name]: FieldInfo(
    (info.n_features,), tabular=True)}) for name, info in BUILTIN.items()})
# A dataset with two fields whose label needs both: every digit twice, with the shift 0 and
# with the shift 5, labelled (digit + shift) mod 10. The image alone tells the label of half
# the samples at most (which of two, 5 apart), the shift alone one in ten.
DIGIT_SHIFTS = (0, 5)
BUILTIN["digits_shift"] = DatasetInfo(
    name="digits_shift", n_samples=1797 * len(DIGIT_SHIFTS), n_features=65,
    task="classification", class_names=BUILTIN["digits"].class_names,
    feature_names=(*BUILTIN["digits"].feature_names, "shift"),
    fields={"image": FieldInfo((64,), tabular=True), "shift": FieldInfo((1,), tabular=True)},
)


def load_builtin(name: str) -> RawData:
    """Load a built-in dataset: x float32 (n, f), y, feature names, class names.

    y is int64 class indices for classification datasets, float64 (n,) for diabetes and
    float32 0/1 columns (n, 3) for digits_multilabel (see DIGIT_LABELS); digits_shift also
    has `fields` (image, shift). Reads the copy inside scikit-learn; never downloads anything.
    """
    import numpy as np

    info = BUILTIN.get(name)
    if info is None:
        raise DataError(Diagnostic(
            "DLS401", f"unknown built-in dataset '{name}'", hint=suggest(name, BUILTIN)
        ))
    from sklearn import datasets  # lazy: scikit-learn is slow to import

    loaders = {
        "digits": datasets.load_digits, "iris": datasets.load_iris, "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer, "diabetes": datasets.load_diabetes,
        "digits_multilabel": datasets.load_digits,
    }
    if name == "digits_shift":
        return _digits_shift(datasets.load_digits(), info)
    bunch = loaders[name]()
    x = np.asarray(bunch.data, dtype=np.float32)
    if info.task == "multilabel":
        y = np.stack([np.isin(bunch.target, digits) for digits in DIGIT_LABELS.values()], axis=1)
        y = y.astype(np.float32)
    elif info.task == "classification":
        y = np.asarray(bunch.target, dtype=np.int64)
    else:
        y = np.asarray(bunch.target, dtype=np.float64)
    return RawData(x, y, list(info.feature_names), list(info.class_names))


def _digits_shift(bunch, info: DatasetInfo) -> RawData:
    """The digits once per shift (DIGIT_SHIFTS), labelled (digit + shift) mod 10."""
    import numpy as np

    n = len(bunch.target)
    image = np.tile(np.asarray(bunch.data, dtype=np.float32), (len(DIGIT_SHIFTS), 1))
    shift = np.repeat(np.array(DIGIT_SHIFTS, dtype=np.float32), n)[:, None]
    y = (np.tile(bunch.target, len(DIGIT_SHIFTS)) + shift[:, 0].astype(np.int64)) % 10
    return RawData(np.concatenate([image, shift], axis=1), y.astype(np.int64),
                   list(info.feature_names), list(info.class_names),
                   {"image": image, "shift": shift})

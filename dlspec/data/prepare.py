"""From a `data:` section to `PreparedData`: load, check against the model, split, clean, scale.

`describe_data` and `fit_diagnostics` let `dlspec validate` check a model's input and output
against the data without torch (and, for built-in datasets, without scikit-learn). Tabular
features are cleaned, scaled and reshaped to the model's input; sequence data is kept as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dlspec.data.builtin import BUILTIN, DatasetInfo, FieldInfo, RawData, load_builtin
from dlspec.data.config import DataConfig
from dlspec.data.describe import ModelIO, augment_diagnostics, fit_problems, static_info
from dlspec.data.fields import FieldError, feeds, misfit
from dlspec.data.files import MissingPolicy, load_csv_columns, load_npz
from dlspec.data.image_config import IMAGES
from dlspec.data.rescale import rescaling
from dlspec.data.split import ordered_splits, split_indices
from dlspec.data.synthetic import SYNTHETIC, synthetic_form, synthetic_params
from dlspec.data.table_columns import encode_categorical, fill_columns
from dlspec.data.table_config import column_strategy
from dlspec.data.tasks import PER_TOKEN, Task
from dlspec.data.text_config import TEXT
from dlspec.data.types import PreparedData, Split
from dlspec.errors import DataError

FILE_FIELD = "features"  # the one field of a CSV file without data.inputs


def load_raw(config: DataConfig, base_dir: Path, inputs: Sequence[str] = ()
             ) -> tuple[RawData, str]:
    """The dataset's features and targets before splitting, and where they came from; a
    synthetic one in the form a model with `inputs` (its input names) is fed."""
    if config.dataset in BUILTIN:
        return load_builtin(config.dataset), f"builtin:{config.dataset}"
    if config.dataset in SYNTHETIC:
        from dlspec.data.generate import generate

        params = synthetic_params(config.dataset, config.synthetic_params())
        raw = generate(config.dataset, params, config.seed, config.split,
                       synthetic_form(config.dataset, inputs))
        return raw, f"synthetic:{config.dataset}"
    path = Path(base_dir) / str(config.path)
    if config.dataset == "csv":
        return load_table(config, base_dir, inputs)[:2]
    return load_npz(path, config.target or "y", config.missing), str(path)


def load_table(config: DataConfig, base_dir: Path, inputs: Sequence[str] = ()
               ) -> tuple[RawData, str, dict[str, list[str]]]:
    """`load_raw`, and the categories of a CSV file's categorical columns (files.py)."""
    if config.dataset != "csv":
        return (*load_raw(config, base_dir, inputs), {})
    path = Path(base_dir) / str(config.path)
    raw, categories = load_csv_columns(path, config.target, config.features, config.missing,
                                       config.inputs, config.categorical,
                                       config.missing_columns)
    return raw, str(path), categories


def _as_classes(raw: RawData) -> tuple[np.ndarray | None, list[str]]:
    """Class indices and names, or (None, []) when the targets are not whole numbers."""
    if raw.class_names:
        return raw.y, raw.class_names
    y = raw.y
    if y.ndim != 1 or not np.all(y == np.round(y)):
        return None, []
    values = np.unique(y)
    return np.searchsorted(values, y).astype(np.int64), [str(int(v)) for v in values]


def soft_labels(raw: RawData) -> bool:
    """Targets that are one probability per class (data.target lists the class columns)."""
    return bool(raw.class_names) and raw.y.ndim == 2


def _zero_one_columns(y: np.ndarray) -> bool:
    """Several target columns of only 0 and 1: labels of a multi-label task, or numbers."""
    return y.ndim == 2 and y.shape[1] > 1 and bool(np.isin(y, (0, 1)).all())


def info_from_raw(raw: RawData, name: str) -> DatasetInfo:
    """What a loaded file tells about features and targets (see `DatasetInfo`)."""
    indices, class_names = _as_classes(raw)
    task = "classification" if raw.class_names else ("regression" if indices is None else None)
    if soft_labels(raw):  # class probabilities: classification (cross_entropy) or kl_div
        class_names = raw.class_names
    elif _zero_one_columns(raw.y):
        task, class_names = None, [f"label_{j}" for j in range(raw.y.shape[1])]
    return DatasetInfo(
        name=name, n_features=raw.x.shape[1], task=task, class_names=tuple(class_names),
        feature_names=tuple(raw.feature_names), n_samples=len(raw.x),
        n_targets=1 if raw.y.ndim == 1 else raw.y.shape[1],
        fields={key: _field_info(a) for key, a in raw.fields.items()} or {
            FILE_FIELD: FieldInfo((raw.x.shape[1],), tabular=True)},
    )


def _field_info(values: np.ndarray) -> FieldInfo:
    """A field of a file: float numbers, or whole numbers (ids 0..max when none is < 0)."""
    if values.dtype.kind not in "iu":
        return FieldInfo(values.shape[1:], tabular=True)
    ids = len(values) and values.min() >= 0
    return FieldInfo(values.shape[1:], "int64", int(values.max()) + 1 if ids else 0,
                     tabular=True)


def named_fields(raw: RawData, info: DatasetInfo) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Each field's values (n, ...) and the names of its flattened columns."""
    if not raw.fields:
        return {next(iter(info.fields)): (raw.x, list(raw.feature_names))}
    widths = [math.prod(a.shape[1:]) for a in raw.fields.values()]
    ends = np.cumsum(widths)
    return {name: (a, list(raw.feature_names[end - width:end]))
            for (name, a), width, end in zip(raw.fields.items(), widths, ends, strict=True)}


def _targets(raw: RawData, task: Task) -> np.ndarray:
    """Targets shaped for the loss, as the `Split` contract says."""
    if task in ("regression", "multilabel"):
        return raw.y.astype(np.float32).reshape(len(raw.y), -1)
    if task in PER_TOKEN:
        return raw.y.astype(np.int64)
    if soft_labels(raw):  # probabilities of the classes, (n, classes)
        return raw.y.astype(np.float32)
    indices, _ = _as_classes(raw)
    if indices is None:  # fit_diagnostics reports this first; kept for direct callers
        raise DataError(misfit(f"the targets are not class labels, but the task is {task}"))
    return indices if task == "classification" else indices.astype(np.float32).reshape(-1, 1)


def fill_missing(x: np.ndarray, train_rows: np.ndarray, missing: MissingPolicy | list,
                 feature_names: list[str], fill_value: float = 0.0) -> np.ndarray:
    """Fill NaN cells as `missing` says (one strategy, or one per column: a strategy or a
    number): with 0, `fill_value` (constant), or the column's mean/median/most frequent
    value over the train rows only."""
    strategies = [missing] * x.shape[1] if isinstance(missing, str) else missing
    return fill_columns(x, train_rows, strategies, feature_names, fill_value)


def standardization(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std of the train features; a constant feature gets std 1."""
    mean = x_train.mean(axis=0, dtype=np.float64)
    std = x_train.std(axis=0, dtype=np.float64)
    std[np.ptp(x_train, axis=0) == 0] = 1.0
    return mean, std


def _stratify_labels(config: DataConfig, task: Task, y: np.ndarray) -> np.ndarray | None:
    if task not in ("classification", "binary"):
        if config.stratify:
            raise DataError(misfit(f"stratify: true needs class labels (one per sample), but "
                                   f"the task is {task}", hint="set data.stratify: false"))
        return None
    if config.stratify is False:
        return None
    return y.argmax(1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(len(y))


def _features(values: np.ndarray, names: list[str], config: DataConfig,
              train_rows: np.ndarray, input_shape: tuple[int, ...],
              unscaled: frozenset[str] = frozenset()) -> tuple[np.ndarray, ...]:
    """Tabular features filled, standardized with train statistics, shaped for the input;
    and the mean and std (None when standardize is off). Columns named in `unscaled` (one-hot
    categories) keep their 0/1 values."""
    x = values.reshape(len(values), -1).astype(np.float64)
    x = fill_missing(x, train_rows, [column_strategy(config, n) for n in names], names,
                     config.fill_value)
    if config.standardize is False and config.rescale is None:
        return x.astype(np.float32).reshape((len(x), *input_shape)), None, None
    mean, std = (rescaling(x[train_rows], config.rescale) if config.rescale is not None
                 else standardization(x[train_rows]))
    keep = np.array([n in unscaled for n in names], dtype=bool)
    if keep.any():
        mean, std = np.where(keep, 0.0, mean), np.where(keep, 1.0, std)
    x = ((x - mean) / std).astype(np.float32).reshape((len(x), *input_shape))
    return x, mean.astype(np.float32).reshape(input_shape), std.astype(np.float32).reshape(
        input_shape)


def model_inputs(raw: RawData, info: DatasetInfo, config: DataConfig, model: ModelIO,
                 train_rows: np.ndarray, unscaled: frozenset[str] = frozenset()
                 ) -> tuple[dict[str, np.ndarray], dict[str, tuple]]:
    """Every model input's values (n, *input shape) by input name, in the model's order,
    each from the field feeding it; and the (mean, std) of each standardized one."""
    fields = named_fields(raw, info)
    inputs = model.all_inputs()
    fed = feeds(info.fields, [i.name for i in inputs], by_name=config.inputs is not None)
    values, scaling = {}, {}
    for model_input in inputs:
        name = fed[model_input.name]
        x, columns = fields[name]
        if info.fields[name].tabular and model_input.dtype == "float32":
            x, mean, std = _features(x, columns, config, train_rows, model_input.shape,
                                     unscaled)
            if mean is not None:
                scaling[model_input.name] = (mean, std)
        elif info.fields[name].tabular:  # whole numbers of a file, as they are
            x = x.astype(np.int64)
        values[model_input.name] = x
    return values, scaling


def prepare_data(config: DataConfig, *, base_dir: Path, model: ModelIO,
                 task: Task) -> PreparedData:
    """Load the configured data and make it ready to train a model.

    `model` describes the model's inputs and output per sample, `task` is the resolved task
    (data.task when set, else from the dataset or the loss). Raises DataError: DLS401 when
    the data cannot be loaded, DLS402 when it does not fit the model, the task or the
    augmentations (a FieldError, each diagnostic with its key in the `data:` section).
    """
    if config.dataset == TEXT:
        from dlspec.data.text_prepare import prepare_text

        return prepare_text(config, base_dir=base_dir, model=model, task=task)
    names = [i.name for i in model.all_inputs()]
    if config.dataset == IMAGES:  # decoded while training, never loaded whole
        from dlspec.data.image_prepare import prepare_images

        return prepare_images(config, base_dir, model, task)
    raw, source, categories = load_table(config, base_dir, names)
    raw, columns = encoded_table(raw, categories, config, task, source)
    info = static_info(config, names) or info_from_raw(raw, source)
    problems = fit_problems(info, model, task, config)
    problems += [(("data", "augment", name), problem) for name, problem in
                 augment_diagnostics(config.augment, model, task).items()]
    if problems:
        raise FieldError(problems)
    y = _targets(raw, task)
    splits = _splits(y, config, task)
    unscaled = frozenset(f"{c['name']}={v}" for c in columns if c["encoding"] == "one_hot"
                         for v in c["categories"])
    inputs, scaling = model_inputs(raw, info, config, model, splits[0], unscaled)
    train, val, test = (Split({name: x[rows] for name, x in inputs.items()}, y[rows])
                        for rows in splits)
    mean, std = next(iter(scaling.values())) if len(inputs) == 1 and scaling else (None, None)
    return PreparedData(
        train=train, val=val, test=test, task=task, feature_names=list(raw.feature_names),
        class_names=[] if task == "regression" else list(info.class_names), source=source,
        mean=mean, std=std, augment=config.augment, scaling=scaling,
        sampling=config.sampling, columns=columns if categories else [],
    )


def _splits(y: np.ndarray, config: DataConfig, task: Task) -> tuple[np.ndarray, ...]:
    """The train, val and test rows."""
    if config.dataset in SYNTHETIC and SYNTHETIC[config.dataset].ordered_splits:
        return ordered_splits(len(y), config.split)
    return split_indices(len(y), config.split, config.seed, _stratify_labels(config, task, y))


def encoded_table(raw: RawData, categories: dict[str, list[str]], config: DataConfig,
                  task: Task | None, source: str) -> tuple[RawData, list[dict]]:
    """The raw data with its categorical columns encoded from the train split's categories
    (table_columns.py), and the columns as exported files record them; as it is without
    categorical columns, or when its targets do not fit the task (reported elsewhere)."""
    if not categories:
        return raw, []
    task = task or config.task or ("classification" if raw.class_names else "regression")
    try:
        rows = _splits(_targets(raw, task), config, task)[0]
    except DataError:
        return raw, []
    return encode_categorical(raw, categories, config, rows, source)

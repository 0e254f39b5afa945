"""From a `data:` section to `PreparedData`: load, check against the model, split, clean, scale.

`describe_data` and `fit_diagnostics` let `dlspec validate` check a model's input and output
against the data without torch (and, for built-in datasets, without scikit-learn).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlspec.data.builtin import BUILTIN, DatasetInfo, RawData, load_builtin
from dlspec.data.config import DataConfig
from dlspec.data.describe import fit_diagnostics, misfit
from dlspec.data.files import MissingPolicy, load_csv, load_npz
from dlspec.data.split import split_indices
from dlspec.data.types import PreparedData, Split, Task
from dlspec.errors import DataError, Diagnostic


def load_raw(config: DataConfig, base_dir: Path) -> tuple[RawData, str]:
    """The dataset's features and targets before splitting, and where they came from."""
    if config.dataset in BUILTIN:
        return load_builtin(config.dataset), f"builtin:{config.dataset}"
    path = Path(base_dir) / str(config.path)
    if config.dataset == "csv":
        return load_csv(path, config.target, config.features, config.missing), str(path)
    return load_npz(path, "x", config.target or "y", config.missing), str(path)


def _as_classes(raw: RawData) -> tuple[np.ndarray | None, list[str]]:
    """Class indices and names, or (None, []) when the targets are not whole numbers."""
    if raw.class_names:
        return raw.y, raw.class_names
    y = raw.y
    if y.ndim != 1 or not np.all(y == np.round(y)):
        return None, []
    values = np.unique(y)
    return np.searchsorted(values, y).astype(np.int64), [str(int(v)) for v in values]


def info_from_raw(raw: RawData, name: str) -> DatasetInfo:
    """What a loaded file tells about features and targets (see `DatasetInfo`)."""
    indices, class_names = _as_classes(raw)
    task = "classification" if raw.class_names else ("regression" if indices is None else None)
    return DatasetInfo(
        name=name, n_features=raw.x.shape[1], task=task, class_names=tuple(class_names),
        feature_names=tuple(raw.feature_names), n_samples=len(raw.x),
        n_targets=1 if raw.y.ndim == 1 else raw.y.shape[1],
    )


def _targets(raw: RawData, task: Task) -> np.ndarray:
    """Targets shaped for the loss, as the `Split` contract says."""
    if task == "regression":
        return raw.y.astype(np.float32).reshape(len(raw.y), -1)
    indices, _ = _as_classes(raw)
    if indices is None:  # fit_diagnostics reports this first; kept for direct callers
        raise DataError(misfit(f"the targets are not class labels, but the task is {task}"))
    return indices if task == "classification" else indices.astype(np.float32).reshape(-1, 1)


def fill_missing(x: np.ndarray, train_rows: np.ndarray, missing: MissingPolicy,
                 feature_names: list[str]) -> np.ndarray:
    """Fill NaN cells with 0, or with the column's mean/median over the train rows only."""
    holes = np.isnan(x)
    if not holes.any() or missing in ("error", "drop"):
        return x
    if missing == "zero":
        fill = np.zeros(x.shape[1])
    else:
        train = x[train_rows]
        empty = np.isnan(train).all(axis=0) & holes.any(axis=0)
        if empty.any():
            name = feature_names[int(np.argmax(empty))]
            raise DataError(Diagnostic(
                "DLS401", f"column '{name}' has no values in the train split to take a "
                f"{missing} from", hint="set data.missing to zero or drop, or leave it out"))
        fill = np.nanmean(train, axis=0) if missing == "mean" else np.nanmedian(train, axis=0)
    filled = x.copy()
    filled[holes] = fill[np.nonzero(holes)[1]]
    return filled


def standardization(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std of the train features; a constant feature gets std 1."""
    mean = x_train.mean(axis=0, dtype=np.float64)
    std = x_train.std(axis=0, dtype=np.float64)
    std[np.ptp(x_train, axis=0) == 0] = 1.0
    return mean, std


def _stratify_labels(config: DataConfig, task: Task, y: np.ndarray) -> np.ndarray | None:
    if task == "regression":
        if config.stratify:
            raise DataError(misfit("stratify: true needs class labels, but the task is "
                                    "regression", hint="set data.stratify: false"))
        return None
    return None if config.stratify is False else y.reshape(len(y))


def prepare_data(config: DataConfig, *, base_dir: Path, input_shape: tuple[int, ...],
                 task: Task, num_outputs: int) -> PreparedData:
    """Load the configured data and make it ready to train a model.

    `task` is the resolved task (data.task when set, else from the loss), `input_shape` the
    model's input without the batch dimension, and `num_outputs` its last layer's width.
    Raises DataError: DLS401 when the data cannot be loaded, DLS402 when it does not fit.
    """
    raw, source = load_raw(config, base_dir)
    info = BUILTIN.get(config.dataset) or info_from_raw(raw, source)
    problems = fit_diagnostics(info, tuple(input_shape), task, num_outputs)
    if problems:
        raise DataError(problems)
    y = _targets(raw, task)
    splits = split_indices(len(y), config.split, config.seed, _stratify_labels(config, task, y))
    x = fill_missing(raw.x.astype(np.float64), splits[0], config.missing, raw.feature_names)
    mean = std = None
    if config.standardize:
        mean, std = standardization(x[splits[0]])
        x = (x - mean) / std
    shape = (len(x), *input_shape)
    x = x.astype(np.float32).reshape(shape)
    train, val, test = (Split(x[rows], y[rows]) for rows in splits)
    class_names = [] if task == "regression" else list(_as_classes(raw)[1])
    return PreparedData(
        train=train, val=val, test=test, task=task, feature_names=list(raw.feature_names),
        class_names=class_names, source=source,
        mean=None if mean is None else mean.astype(np.float32).reshape(input_shape),
        std=None if std is None else std.astype(np.float32).reshape(input_shape),
    )

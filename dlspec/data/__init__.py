"""The data stage: load a dataset, check it fits the model, split, clean and scale it.

Numpy only (no torch); scikit-learn is imported only when a built-in dataset is loaded.
"""

from dlspec.data.builtin import BUILTIN, DatasetInfo, RawData, load_builtin
from dlspec.data.config import DataConfig
from dlspec.data.files import load_csv, load_npz
from dlspec.data.prepare import describe_data, fit_diagnostics, prepare_data
from dlspec.data.split import split_indices
from dlspec.data.types import PreparedData, Split, Task

__all__ = [
    "BUILTIN", "DataConfig", "DatasetInfo", "PreparedData", "RawData", "Split", "Task",
    "describe_data", "fit_diagnostics", "load_builtin", "load_csv", "load_npz",
    "prepare_data", "split_indices",
]

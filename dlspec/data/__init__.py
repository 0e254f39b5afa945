"""The data stage: load a dataset, check it fits the model, split, clean and scale it.

Numpy only (no torch); scikit-learn is imported only when a built-in dataset is loaded, and
names load on first use, so checking a spec against a built-in dataset imports neither.
"""

from __future__ import annotations

from dlspec.lazy import lazy_exports

_EXPORTS = {
    "BUILTIN": "dlspec.data.builtin", "DatasetInfo": "dlspec.data.builtin",
    "RawData": "dlspec.data.builtin", "load_builtin": "dlspec.data.builtin",
    "DataConfig": "dlspec.data.config",
    "describe_data": "dlspec.data.describe", "fit_diagnostics": "dlspec.data.describe",
    "load_csv": "dlspec.data.files", "load_npz": "dlspec.data.files",
    "prepare_data": "dlspec.data.prepare",
    "split_indices": "dlspec.data.split",
    "PreparedData": "dlspec.data.types", "Split": "dlspec.data.types", "Task": "dlspec.data.types",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)

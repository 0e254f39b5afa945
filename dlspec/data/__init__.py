"""The data stage: load or generate a dataset, check it fits the model, split, clean and
scale it; and augment training batches.

Numpy only (no torch) but for augment.py, which training imports; scikit-learn is imported
only when a built-in dataset is loaded, and names load on first use, so checking a spec
against a built-in or synthetic dataset imports none of them.
"""

from __future__ import annotations

from dlspec.lazy import lazy_exports

_EXPORTS = {
    "BUILTIN": "dlspec.data.builtin", "DatasetInfo": "dlspec.data.builtin",
    "RawData": "dlspec.data.builtin", "load_builtin": "dlspec.data.builtin",
    "AugmentConfig": "dlspec.data.augment_config",
    "DataConfig": "dlspec.data.config",
    "ModelIO": "dlspec.data.describe",
    "describe_data": "dlspec.data.describe", "fit_diagnostics": "dlspec.data.describe",
    "load_csv": "dlspec.data.files", "load_npz": "dlspec.data.files",
    "prepare_data": "dlspec.data.prepare",
    "split_indices": "dlspec.data.split",
    "SYNTHETIC": "dlspec.data.synthetic",
    "TASKS": "dlspec.data.tasks",
    "PreparedData": "dlspec.data.types", "Split": "dlspec.data.types", "Task": "dlspec.data.tasks",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)

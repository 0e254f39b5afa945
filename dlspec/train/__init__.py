"""Training: the spec's loss, optimizer, schedule, regularization and train sections, and `fit`.

Importing this package stays torch-free (`dlspec validate` imports `dlspec.train.config`);
`fit`, `FitResult` and the checkpoint functions load torch when first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "fit": "dlspec.train.loop",
    "FitResult": "dlspec.train.loop",
    "Recipe": "dlspec.train.recipe",
    "make_run_dir": "dlspec.train.run_dir",
    "resolve_device": "dlspec.train.device",
    "save_checkpoint": "dlspec.train.checkpoint",
    "load_checkpoint": "dlspec.train.checkpoint",
    "apply_checkpoint": "dlspec.train.checkpoint",
    "Checkpoint": "dlspec.train.checkpoint",
    "lr_at": "dlspec.train.schedules",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'dlspec.train' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

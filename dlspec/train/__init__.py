"""Training: the spec's loss, optimizer, schedule, regularization and train sections, and `fit`.

Importing this package stays torch-free (`dlspec validate` imports `dlspec.train.config`);
`fit`, `FitResult` and the checkpoint functions load torch when first used.
"""

from __future__ import annotations

from dlspec.lazy import lazy_exports

_EXPORTS = {
    "fit": "dlspec.train.loop",
    "FitResult": "dlspec.train.loop",
    "FitOptions": "dlspec.train.setup",
    "lr_range_test": "dlspec.train.lr_find",
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


__getattr__ = lazy_exports(__name__, _EXPORTS)

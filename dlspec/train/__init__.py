"""Training, by concept: `recipe/` (the spec's loss, optimizer, schedule, regularization and
train sections), `objectives/` (what a training step does: supervised, gan, simclr, ...),
`engine/` (`fit`: the loop, setup, steps over named batches), `run_folder/` (run folders,
checkpoints, exact resume), `scoring/` (metrics, probes, sample quality) and `diagnostics/`
(lr-find, overfit, anomaly detection, plots).

Importing this package stays torch-free (`dlspec validate` imports `dlspec.train.recipe.config`);
`fit`, `FitResult` and the checkpoint functions load torch when first used.
"""

from __future__ import annotations

from dlspec.lazy import lazy_exports

_EXPORTS = {
    "fit": "dlspec.train.engine.loop",
    "FitResult": "dlspec.train.engine.loop",
    "FitOptions": "dlspec.train.engine.setup",
    "lr_range_test": "dlspec.train.diagnostics.lr_find",
    "Recipe": "dlspec.train.recipe",
    "make_run_dir": "dlspec.train.run_folder.run_dir",
    "resolve_device": "dlspec.train.engine.device",
    "save_checkpoint": "dlspec.train.run_folder.checkpoint",
    "load_checkpoint": "dlspec.train.run_folder.checkpoint",
    "apply_checkpoint": "dlspec.train.run_folder.checkpoint",
    "Checkpoint": "dlspec.train.run_folder.checkpoint",
    "lr_at": "dlspec.train.recipe.schedules",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)

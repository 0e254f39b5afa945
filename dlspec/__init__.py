"""dlspec: a compiler for declarative deep-learning specs.

    import dlspec
    checked = dlspec.check("specs/mlp-digits.yaml")       # every static check, torch-free
    model = dlspec.compile_module(checked)                 # a torch.fx GraphModule
    result = dlspec.train_spec("specs/mlp-digits.yaml")    # trains; returns the FitResult
    report = dlspec.export_spec("specs/mlp-digits.yaml", "mlp.onnx", weights=result.run_dir)

Names load on first use, so `import dlspec` imports neither torch nor onnx.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "check": "dlspec.api",
    "compile_module": "dlspec.api",
    "train_spec": "dlspec.api",
    "export_spec": "dlspec.api",
    "load_weights": "dlspec.api",
    "load_spec": "dlspec.spec.load",
    "check_spec": "dlspec.compiler",
    "DlspecError": "dlspec.errors",
    "Diagnostic": "dlspec.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'dlspec' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

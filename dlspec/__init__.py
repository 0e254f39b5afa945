"""dlspec: a compiler for declarative deep-learning specs.

    import dlspec
    checked = dlspec.check("specs/mlp-digits.yaml")       # every static check, torch-free
    model = dlspec.compile_module(checked)                 # a torch.fx GraphModule
    result = dlspec.train_spec("specs/mlp-digits.yaml")    # trains; returns the FitResult
    report = dlspec.export_spec("specs/mlp-digits.yaml", "mlp.onnx", weights=result.run_dir)

Names load on first use, so `import dlspec` imports neither torch nor onnx.
"""

from __future__ import annotations

from dlspec.lazy import lazy_exports

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


__getattr__ = lazy_exports(__name__, _EXPORTS)

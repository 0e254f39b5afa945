"""Failing fast: what a command checks before it imports anything heavy.

A command that will import torch (seconds) first makes sure that its spec file can be read
(before even the spec parser is imported) and that the spec passes every static check
(`dlspec.api.check`, torch-free). A mistake in the arguments or the spec is then reported
in a fraction of a second, with the same located error the full pipeline gives. Missing
files given by option (weights, ONNX models, inputs) are refused by the option itself
(`exists=True`, see dlspec.cli).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def spec_readable(path: Path) -> None:
    """Raise DLS007 (as `dlspec.spec.load.load_spec` does: the same check) when the spec
    file cannot be read: missing, a folder, a device, too big, unreadable. Imports nothing
    but dlspec.errors."""
    from dlspec.spec.spec_file import check_spec_file

    check_spec_file(Path(path))


def check_first(spec: Path | None, overrides: Sequence[str] = (), model: str | None = None,
                *, data: bool = True, folders: bool = False, init_from: bool = True) -> Any:
    """Every static check of `spec` with `overrides`, before the command imports torch:
    `dlspec.api.check` (with the data fit), or without `data` the structure, graph and
    shapes only (`check_spec`, what export checks: it reads no data). Returns the
    CheckedSpec; None when there is nothing to check: no spec, or with `folders` a folder
    (a run folder, which the command reads itself). `init_from`: whether the command will
    read the checkpoint `train.init_from` names (a fresh training), so that it must exist."""
    if spec is None or (folders and spec.is_dir()):
        return None
    spec_readable(spec)
    if data:
        from dlspec.api import check

        return check(spec, overrides, model, init_from=init_from)
    from dlspec.compiler import check_spec

    return check_spec(spec, overrides, model)

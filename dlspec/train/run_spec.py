"""The spec a run was trained from: saved in its folder, read back to resume or plot it.

A run folder holds spec.yaml (the spec file as written), ir.json (resolved) and run.json
(the spec's original path and the --set overrides of the run). Torch-free.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from dlspec.errors import Diagnostic, TrainError
from dlspec.files import atomic_write_text
from dlspec.train.run_dir import RunFiles


def save_run_spec(run_dir: Path, checked: Any, overrides: Sequence[str]) -> None:
    """Write spec.yaml, ir.json and run.json into a new run's folder."""
    from dlspec.ir.serialize import spec_to_text

    files = RunFiles(Path(run_dir))
    atomic_write_text(files.spec_yaml, checked.loaded.text)
    atomic_write_text(files.root / "ir.json", spec_to_text(checked))
    record = {"spec": str(Path(checked.loaded.path).resolve()), "overrides": list(overrides)}
    atomic_write_text(files.run_json, json.dumps(record, indent=2) + "\n")


def run_record(run_dir: Path) -> dict[str, Any]:
    """run.json of a run folder: {'spec': original path, 'overrides': [...]}."""
    files = RunFiles(Path(run_dir))
    if not files.spec_yaml.is_file():
        raise TrainError(Diagnostic(
            "DLS403", f"{run_dir} is not a run folder (it has no spec.yaml)",
            hint="pass the folder `dlspec train` printed, e.g. runs/mlp-digits-20250101-120000"))
    if not files.run_json.is_file():  # a run from before run.json: its spec, no overrides
        return {"spec": str(files.spec_yaml), "overrides": []}
    return json.loads(files.run_json.read_text(encoding="utf-8"))


def load_run_spec(run_dir: Path, moved: Sequence[str] = ()):
    """The spec as the run used it (spec.yaml with the run's overrides, then `moved`: a
    resumed run's train.device), its relative paths (data files, init_from) taken from the
    original spec's folder."""
    from dlspec.compiler import check_spec

    record = run_record(run_dir)
    checked = check_spec(RunFiles(Path(run_dir)).spec_yaml, [*record["overrides"], *moved])
    checked.loaded = replace(checked.loaded, path=Path(record["spec"]))
    return checked


def check_same_spec(run_dir: Path, spec: Path | None, overrides: Sequence[str]) -> list[str]:
    """Refuse to resume a run with another spec file or other overrides than it started with;
    the device may change (a run started on a GPU may go on on the CPU). Returns the device
    overrides among `overrides`, for `load_run_spec`.

    `spec` None and no overrides mean: the run's own.
    """
    moved = [o for o in overrides if o.startswith(DEVICE_OVERRIDE)]
    overrides = [o for o in overrides if o not in moved]
    record = run_record(run_dir)
    saved = RunFiles(Path(run_dir)).spec_yaml.read_text(encoding="utf-8")
    if spec is not None:
        text = Path(spec).read_text(encoding="utf-8")
        if text != saved:
            raise TrainError(Diagnostic(
                "DLS403", f"{spec} differs from the spec the run in {run_dir} was started "
                          f"with ({_first_difference(saved, text)})",
                hint=f"resume with the run's own spec: `dlspec train --resume {run_dir}`; or "
                     "start a new run"))
    if overrides and list(overrides) != record["overrides"]:
        raise TrainError(Diagnostic(
            "DLS403", f"--resume was given the overrides {list(overrides)}, but the run was "
                      f"started with {record['overrides']}",
            hint="resume without --set/--epochs/--seed: the run keeps its own settings "
                 "(--device may change)"))
    return moved


DEVICE_OVERRIDE = "train.device="  # what `dlspec train --device` sets


def _first_difference(old: str, new: str) -> str:
    for number, (a, b) in enumerate(zip(old.splitlines(), new.splitlines(), strict=False),
                                    start=1):
        if a != b:
            return f"first difference at line {number}: {a.strip()!r} became {b.strip()!r}"
    more = len(new.splitlines()) - len(old.splitlines())
    if more:
        return f"it has {abs(more)} {'more' if more > 0 else 'fewer'} lines"
    return "they differ in line endings or trailing whitespace"

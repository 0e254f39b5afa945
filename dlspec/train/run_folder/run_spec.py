"""The spec a run was trained from: saved in its folder, read back to resume or plot it.

A run folder holds spec.yaml (the spec file as written), ir.json (resolved) and run.json
(the spec's original path and the --set overrides of the run). Torch-free.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlspec.errors import Diagnostic, TrainError
from dlspec.files import atomic_write_text
from dlspec.train.run_folder.run_dir import RunFiles
from dlspec.train.run_folder.run_records import read_result_json, read_run_json


def save_run_spec(run_dir: Path, checked: Any, overrides: Sequence[str]) -> None:
    """Write spec.yaml, ir.json and run.json into a new run's folder."""
    from dlspec.ir.serialize import spec_to_text

    files = RunFiles(Path(run_dir))
    atomic_write_text(files.spec_yaml, checked.loaded.text)
    atomic_write_text(files.root / "ir.json", spec_to_text(checked))
    record = {"spec": str(Path(checked.loaded.path).resolve()), "overrides": list(overrides)}
    atomic_write_text(files.run_json, json.dumps(record, indent=2) + "\n")


def is_run_folder(path: Path) -> bool:
    """Whether `path` is a folder holding a run's spec.yaml."""
    return Path(path).is_dir() and RunFiles(Path(path)).spec_yaml.is_file()


def run_record(run_dir: Path) -> dict[str, Any]:
    """run.json of a run folder: {'spec': original path, 'overrides': [...]}, and 'epochs'
    once `--resume --epochs` extended it."""
    files = RunFiles(Path(run_dir))
    if not files.spec_yaml.is_file():
        raise TrainError(Diagnostic(
            "DLS403", f"{run_dir} is not a run folder (it has no spec.yaml)",
            hint="pass the folder `dlspec train` printed, e.g. runs/mlp-digits-20250101-120000"))
    if not files.run_json.exists() and not files.run_json.is_symlink():
        # a run from before run.json: its spec, no overrides
        return {"spec": str(files.spec_yaml), "overrides": []}
    return read_run_json(files.run_json)  # checked: DLS419 when damaged


def load_run_spec(run_dir: Path, moved: Sequence[str] = ()):
    """The spec as the run used it (spec.yaml with the run's overrides and extension, then
    `moved`: a resumed run's train.device and epochs, or what evaluate and export add), its
    relative paths (data files, init_from) taken from the original spec's folder."""
    from dlspec.compiler import check_spec

    record = run_record(run_dir)
    extended = [f"{EPOCHS_OVERRIDE}{record['epochs']}"] if "epochs" in record else []
    checked = check_spec(RunFiles(Path(run_dir)).spec_yaml,
                         [*record["overrides"], *extended, *moved], origin=Path(record["spec"]))
    return checked


def check_same_spec(run_dir: Path, spec: Path | None, overrides: Sequence[str]) -> list[str]:
    """Refuse to resume a run with another spec file or other overrides than it started with;
    the device may change (a run started on a GPU may go on on the CPU) and the number of
    epochs (to extend it). Returns those overrides among `overrides`, for `load_run_spec`.

    `spec` None and no overrides mean: the run's own.
    """
    moved = [o for o in overrides if o.startswith(MAY_CHANGE)]
    overrides = [o for o in overrides if o not in moved]
    record = run_record(run_dir)
    record = {**record, "overrides": [o for o in record["overrides"]
                                      if not o.startswith(MAY_CHANGE)]}
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
            hint="resume without --set/--seed: the run keeps its own settings (--device "
                 "may change, and --epochs to train it longer)"))
    return moved


def run_identity(run_dir: Path) -> dict[str, Any] | None:
    """What a resume checkpoint records of the run it belongs to: spec.yaml's text and the
    run's overrides but those that may change on resume; None outside a run folder."""
    files = RunFiles(Path(run_dir))
    if not files.spec_yaml.is_file():
        return None
    return {"spec": files.spec_yaml.read_text(encoding="utf-8"),
            "overrides": [o for o in run_record(run_dir)["overrides"]
                          if not o.startswith(MAY_CHANGE)]}


def identity_difference(saved: dict[str, Any], current: dict[str, Any] | None) -> str | None:
    """How the run folder differs from what its checkpoint was written with (None: the
    same)."""
    if current is None:
        return "the folder has no spec.yaml"
    if saved["spec"] != current["spec"]:
        return (f"spec.yaml was changed after the checkpoint was written "
                f"({_first_difference(saved['spec'], current['spec'])})")
    if saved["overrides"] != current["overrides"]:
        def listed(overrides: list[str]) -> str:
            return " ".join(f"--set {o}" for o in overrides) or "no overrides"
        return (f"the checkpoint was written by a run with {listed(saved['overrides'])}, "
                f"but run.json says {listed(current['overrides'])}")
    return None


DEVICE_OVERRIDE = "train.device="  # what `dlspec train --device` sets
EPOCHS_OVERRIDE = "train.epochs="  # what `dlspec train --epochs` sets
MAY_CHANGE = (DEVICE_OVERRIDE, EPOCHS_OVERRIDE)


def resumed_spec(run_dir: Path, spec: Path | None, overrides: Sequence[str]):
    """The spec the run in `run_dir` continues with (`spec` and `overrides` as given to
    --resume, checked to be the run's own) and the number of epochs it was planned for when
    --epochs extends it (else None); TrainError when there is nothing to continue."""
    moved = check_same_spec(run_dir, spec, overrides)
    checked = load_run_spec(run_dir, moved)
    extend_from = None
    if any(o.startswith(EPOCHS_OVERRIDE) for o in moved):
        planned = planned_epochs(run_dir)
        extend_from = planned if planned != checked.spec.train.epochs else None
    check_resumable(RunFiles(Path(run_dir)), finished=extend_from is not None)
    return checked, extend_from


def check_resumable(files: RunFiles, finished: bool = False) -> None:
    """TrainError DLS403 when the run has no resume checkpoint, or it finished (unless
    `finished`: a finished run being extended)."""
    if not files.resume.exists():
        raise TrainError(Diagnostic(
            "DLS403", f"{files.root} has no resume checkpoint ({files.resume} is missing)",
            hint="the run stopped before its first checkpoint; start it again"))
    if files.result_json.exists() and not finished:
        epochs = read_result_json(files.result_json).get("epochs_run")
        raise TrainError(Diagnostic(
            "DLS403", f"the run in {files.root} already finished (epoch {epochs})",
            hint=f"there is nothing to resume; train it on with `dlspec train --resume "
                 f"{files.root} --epochs N` (N > {epochs}), or train again for a new run"))


def planned_epochs(run_dir: Path) -> int:
    """The number of epochs the run in `run_dir` was planned for."""
    return load_run_spec(run_dir).spec.train.epochs


def record_epochs(run_dir: Path, epochs: int) -> None:
    """An extended run: its new number of epochs goes into run.json (a later --resume
    keeps it), and it is unfinished again until it ends."""
    files = RunFiles(Path(run_dir))
    record = {**run_record(run_dir), "epochs": epochs}
    atomic_write_text(files.run_json, json.dumps(record, indent=2) + "\n")
    files.result_json.unlink(missing_ok=True)


def weights_hint(weights: Path, spec: Path, overrides: Sequence[str], command: str
                 ) -> str | None:
    """Why weights from a run may not fit a spec with overrides: what that run was trained
    with, and how to use it as it was; None when the weights are not in a run folder."""
    weights = Path(weights)
    run = next((f for f in (weights, weights.parent.parent) if is_run_folder(f)), None)
    if run is None:
        return None
    record = run_record(run)
    used = [*record["overrides"], *([f"{EPOCHS_OVERRIDE}{record['epochs']}"]
                                    if "epochs" in record else [])]
    differences = []
    if Path(spec).read_text(encoding="utf-8") != RunFiles(run).spec_yaml.read_text(
            encoding="utf-8"):
        differences.append(f"{spec} differs from the spec the run saved")
    if list(overrides) != record["overrides"]:
        given = " ".join(f"--set {o}" for o in overrides) or "none"
        differences.append(f"the run was trained with the overrides "
                           f"{' '.join(f'--set {o}' for o in used) or 'none'} (given: {given})")
    why = "; ".join(differences) or f"they come from the run in {run}"
    return (f"{why}; pass the run folder in place of the spec to use its own spec and "
            f"overrides: `dlspec {command} {run}`")


def _first_difference(old: str, new: str) -> str:
    for number, (a, b) in enumerate(zip(old.splitlines(), new.splitlines(), strict=False),
                                    start=1):
        if a != b:
            return f"first difference at line {number}: {a.strip()!r} became {b.strip()!r}"
    more = len(new.splitlines()) - len(old.splitlines())
    if more:
        return f"it has {abs(more)} {'more' if more > 0 else 'fewer'} lines"
    return "they differ in line endings or trailing whitespace"

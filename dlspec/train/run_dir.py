"""A training run's folder and the files in it.

    <root>/<name>-YYYYmmdd-HHMMSS/
        metrics.csv                  one row per epoch
        tb/                          TensorBoard event files
        checkpoints/best.safetensors the best epoch by the monitored metric
        checkpoints/last.safetensors the latest epoch
        result.json                  final metrics
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlspec.errors import Diagnostic, TrainError


@dataclass(frozen=True)
class RunFiles:
    """The paths of a run's outputs."""

    root: Path

    @property
    def metrics_csv(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tb"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def best(self) -> Path:
        return self.checkpoints / "best.safetensors"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.safetensors"

    @property
    def result_json(self) -> Path:
        return self.root / "result.json"

    def create(self) -> RunFiles:
        """Make the run folder and its subfolders (fine if they exist)."""
        for folder in (self.root, self.tensorboard, self.checkpoints):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def make_run_dir(root: Path, name: str, now: float | None = None) -> Path:
    """Create and return a new folder `root/name-YYYYmmdd-HHMMSS`.

    When that folder already exists (two runs started in the same second), a counter is
    appended: `name-YYYYmmdd-HHMMSS-2`, `-3`, ...
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = f"{name}-{stamp}"
    for attempt in range(1, 10_000):
        folder = root / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"cannot find a free run folder name for {root / base}")


def make_named_run_dir(root: Path, name: str) -> Path:
    """Create `root/name` for a run named by its user; an existing non-empty folder is refused
    (a finished or crashed run is never overwritten)."""
    folder = Path(root) / name
    if folder.exists() and any(folder.iterdir()):
        raise TrainError(Diagnostic(
            "DLS403", f"run folder {folder} already holds a run",
            hint="choose another --name, or leave --name out for a timestamped folder"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class MetricsCsv:
    """metrics.csv: a header, then one row per epoch, flushed as it is written."""

    def __init__(self, path: Path, columns: list[str]):
        self.columns = columns
        self._file = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.DictWriter(self._file, fieldnames=columns, extrasaction="ignore")
        self._writer.writeheader()
        self._file.flush()

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (missing columns stay empty) and flush it to disk."""
        self._writer.writerow({k: _cell(v) for k, v in row.items()})
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Write result.json (non-finite numbers become null, so the file stays valid JSON)."""
    Path(path).write_text(json_text(result, indent=2) + "\n", encoding="utf-8")


def json_text(value: Any, indent: int | None = None) -> str:
    """Strict JSON: NaN and infinities become null, paths become strings."""
    return json.dumps(_finite(value), indent=indent, allow_nan=False)


def _cell(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value

"""A training run's folder and the files in it.

    <root>/<name>-YYYYmmdd-HHMMSS/
        spec.yaml, ir.json, run.json the spec as written, resolved, and how it was run
        metrics.csv                  one row per epoch
        grad_norms.csv               gradient norm per layer group every log_every steps
        tb/                          TensorBoard event files
        checkpoints/best.safetensors the best epoch by the monitored metric
        checkpoints/last.safetensors the latest epoch
        checkpoints/resume.safetensors
                                     the resume checkpoint (see dlspec/train/run_folder/resume.py)
        result.json                  final metrics; the run is finished when it exists
        tokenizer.json               text data: the tokenizer (tokenizers' JSON)

A new run's folder is made by run_start.py, once the run has started.
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlspec.files import atomic_path, atomic_write_text, remove_stale_temp_files
from dlspec.train.run_folder.disk_full import no_space_errors

SPLITS = ("train", "val", "test")  # the prefixes of metric names: train_loss, val_accuracy


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

    @property
    def resume(self) -> Path:
        return self.checkpoints / "resume.safetensors"

    @property
    def grad_norms_csv(self) -> Path:
        return self.root / "grad_norms.csv"

    @property
    def tokenizer(self) -> Path:
        """Text data: the tokenizer (tokenizers' JSON) that turns text into the model's ids."""
        return self.root / "tokenizer.json"

    @property
    def spec_yaml(self) -> Path:
        return self.root / "spec.yaml"

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    def create(self) -> RunFiles:
        """Make the run folder and its subfolders (fine if they exist), and remove the
        temporary files that writers killed mid-write left in it (see dlspec/files.py)."""
        for folder in (self.root, self.tensorboard, self.checkpoints):
            folder.mkdir(parents=True, exist_ok=True)
            remove_stale_temp_files(folder)
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


class MetricsCsv:
    """A CSV of rows with a `step` column (metrics.csv: one row per epoch), flushed row by row.

    With `resume_step`, the file is continued: its rows up to that step are kept (rows a
    crashed run wrote after its last checkpoint are dropped) and new rows are appended; the
    file is left as it is until the first new row (a resumed run that fails before it
    changes nothing).
    """

    def __init__(self, path: Path, columns: list[str], resume_step: int | None = None):
        self.path, self.columns, self.resume_step = Path(path), columns, resume_step
        self._file = self._writer = None
        if resume_step is None:
            self._open()

    def _open(self) -> None:
        resume_step = self.resume_step
        kept = read_rows(self.path, resume_step) \
            if resume_step is not None and self.path.exists() else []
        size = self.path.stat().st_size if kept else 0
        with no_space_errors(self.path, size), atomic_path(self.path) as tmp, \
                open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(kept)
        self._file = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns,
                                      extrasaction="ignore")

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (missing columns stay empty) and flush it to disk."""
        if self._file is None:
            self._open()
        cells = {k: _cell(v) for k, v in row.items()}
        with no_space_errors(self.path, len(str(cells))):
            self._writer.writerow(cells)
            self._file.flush()

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()


def read_rows(path: Path, until_step: int | None = None) -> list[dict[str, str]]:
    """The rows of a run's CSV file (as strings), those after `until_step` left out;
    TrainError DLS419 when the file is damaged (see run_records.py)."""
    from dlspec.train.run_folder.run_records import read_csv_rows

    return read_csv_rows(path, until_step)


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Write result.json (non-finite numbers become null, so the file stays valid JSON)."""
    atomic_write_text(path, json_text(result, indent=2) + "\n")


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


def checkpoint_file(path: Path) -> Path:
    """A checkpoint file, or a run folder's best checkpoint (its last when it has no best)."""
    if not path.is_dir():
        return path
    files = RunFiles(path)
    return files.best if files.best.exists() or not files.last.exists() else files.last

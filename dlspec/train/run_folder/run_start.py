"""A new run's folder, made only once the run has started, and removed when it fails before
it has kept anything.

`dlspec train` checks the spec, loads the data, compiles the model and sets up the run
(device, loss, metrics, monitor, optimizer) before any file is written. Only then does the
run folder appear, whole and at once: spec.yaml, ir.json and run.json are written into a
hidden sibling (`.<name>.<pid>.starting`) that is renamed to the run's name. A run that
fails, or is interrupted, before it has kept anything (no finished epoch, no resume
checkpoint) removes its folder again, so the same --name can be used at once. Torch-free.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dlspec.errors import Diagnostic, TrainError
from dlspec.files import dead_writer, writer_tag
from dlspec.train.run_folder.run_dir import RunFiles


def taken(folder: Path) -> TrainError:
    return TrainError(Diagnostic(
        "DLS403", f"run folder {folder} already holds a run",
        hint="choose another --name, or leave --name out for a timestamped folder; "
             f"`dlspec train --resume {folder}` continues that run"))


def named_folder(root: Path, name: str) -> Path:
    """`root/name` for a run named by its user; refused when it holds a run (a finished or
    crashed run is never overwritten). An empty folder may be used."""
    folder = Path(root) / name
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise taken(folder)
    return folder


def timestamped_folder(root: Path, name: str, now: float | None = None) -> Path:
    """The first free `root/name-YYYYmmdd-HHMMSS`, then `-2`, `-3`, ... (not created)."""
    base = f"{name}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}"
    for attempt in range(1, 10_000):
        folder = Path(root) / (base if attempt == 1 else f"{base}-{attempt}")
        if not folder.exists():
            return folder
    raise TrainError(Diagnostic("DLS403", f"no free run folder name for {Path(root) / base}"))


@dataclass
class NewRun:
    """The folder a new run will have; `write(folder)` puts the run's spec files into it."""

    folder: Path
    write: Callable[[Path], None]
    created: bool = False

    def create(self) -> RunFiles:
        """Make the folder at once, with its spec files and subfolders (TrainError when
        another run took the name meanwhile)."""
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        remove_dead_staging(self.folder)
        staging = self.folder.with_name(f".{self.folder.name}.{writer_tag()}.starting")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            RunFiles(staging).create()
            self.write(staging)
            os.rename(staging, self.folder)  # replaces an empty folder, never a full one
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            if self.folder.exists():
                raise taken(self.folder) from None
            raise TrainError(Diagnostic(
                "DLS403", f"cannot create the run folder {self.folder}: {error}")) from error
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.created = True
        return RunFiles(self.folder)

    def discard_unless_kept(self) -> bool:
        """After a failure: remove the folder when the run kept nothing (no finished epoch
        and no resume checkpoint); whether it was removed."""
        if not self.created or kept_something(RunFiles(self.folder)):
            return False
        shutil.rmtree(self.folder, ignore_errors=True)
        self.created = False
        return True


def remove_dead_staging(folder: Path) -> None:
    """Remove the staging folders of `folder` that processes killed while they made it left
    (`.<name>.dlspec-<host>-<pid>.starting`, of a process gone from this machine)."""
    pattern = re.compile(rf"^\.{re.escape(folder.name)}\.dlspec-(?P<host>[0-9a-f]{{8}})-"
                         rf"(?P<pid>\d+)\.starting$")
    for entry in folder.parent.iterdir():
        found = pattern.match(entry.name)
        if found and entry.is_dir() and not entry.is_symlink() and \
                dead_writer(found["host"], int(found["pid"])):
            shutil.rmtree(entry, ignore_errors=True)


def kept_something(files: RunFiles) -> bool:
    """Whether a run has something worth keeping: a resume checkpoint, a weights file or a
    finished epoch in metrics.csv."""
    if files.resume.exists() or files.best.exists() or files.last.exists():
        return True
    if not files.metrics_csv.is_file():
        return False
    with open(files.metrics_csv, encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip()) > 1

"""A full disk while a run writes its files: a DLS error naming the folder, the space the
write needed and the space left, and how to go on (never a raw OSError or SafetensorError).

Every checkpoint is written to a temporary file and moved into place (dlspec/files.py), so a
write that runs out of space leaves the previous checkpoint whole: the run stays resumable
from it. Torch-free.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
from collections.abc import Iterator
from pathlib import Path

from dlspec.errors import Diagnostic, TrainError

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# how the Rust safetensors library words an ENOSPC/EDQUOT (its SafetensorError is no OSError)
NO_SPACE_WORDS = ("no space left on device", "storagefull", "os error 28",
                  "disk quota exceeded", "quotaexceeded", "os error 122")


def is_no_space(error: BaseException) -> bool:
    """Whether `error` says the disk (or the user's quota) is full."""
    if isinstance(error, OSError):
        return error.errno in NO_SPACE
    return type(error).__name__ == "SafetensorError" and any(
        words in str(error).lower() for words in NO_SPACE_WORDS)


@contextlib.contextmanager
def no_space_errors(path: Path, needed: int) -> Iterator[None]:
    """Turn a full disk while writing `path` (about `needed` bytes) into `no_space_error`."""
    try:
        yield
    except Exception as error:
        if not is_no_space(error):
            raise
        quota = getattr(error, "errno", None) == errno.EDQUOT or "quota" in str(error).lower()
        raise no_space_error(Path(path), needed, quota) from error


def no_space_error(path: Path, needed: int, quota: bool = False) -> TrainError:
    """TrainError DLS410: `path` could not be written for want of space. Inside a run
    folder (a file in it or in its checkpoints/), it says whether the run can be resumed
    and how."""
    folder = path.parent
    try:
        free = f"{_size(shutil.disk_usage(folder).free)} free"
    except OSError:
        free = "free space unknown"
    run = folder.parent if folder.name == "checkpoints" else folder
    message = (f"{'the disk quota is exceeded' if quota else 'no space left on the device'} "
               f"to write {path.name} in {folder}: it needs about {_size(needed)} ({free})")
    resume = run / "checkpoints" / "resume.safetensors"
    if resume.is_file():
        hint = (f"the previous checkpoint is intact; free at least {_size(needed)} there, "
                f"then resume with: dlspec train --resume {run}")
    elif (run / "spec.yaml").is_file():
        hint = (f"free at least {_size(needed)} there; the run has no resume checkpoint yet, "
                "so start it again")
    else:
        hint = f"free at least {_size(needed)} there and write it again"
    return TrainError(Diagnostic("DLS410", message, hint=hint))


def _size(size: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"

"""Atomic file writes: a reader sees the old file or the new one, never half of one.

A write goes to a hidden temporary file beside its target, named after the writer:
`.<name>.dlspec-<host>-<pid>-<thread><suffix>` (host: a short hash of the machine's name).
A writer killed mid-write (SIGKILL, power loss) leaves its temporary file behind;
`remove_stale_temp_files` removes those of writers that are no longer running on this
machine, and never a live writer's.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

MARK = "dlspec"


def _host() -> str:
    return f"{zlib.crc32(os.uname().nodename.encode()):08x}"


HOST = _host()
STALE = re.compile(rf"^\..+\.{MARK}-(?P<host>[0-9a-f]{{8}})-(?P<pid>\d+)-\d+\.[A-Za-z0-9]+$")


def temp_path(path: str | Path, suffix: str = "") -> Path:
    """A hidden temporary name beside `path`, private to this process and thread (so that
    concurrent writers never share one), ending in `suffix` (default .tmp)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{writer_tag()}-{threading.get_ident()}"
                          f"{suffix or '.tmp'}")


FOLDER = "a folder"
SPECIAL = "not a regular file (a device, pipe or socket)"


def refused_target(path: str | os.PathLike[str]) -> str | None:
    """Why no file may be written at `path` (FOLDER: a folder, or a name ending in a
    separator; SPECIAL: a device such as /dev/null, a pipe or a socket), else None."""
    if Path(path).is_dir() or os.fspath(path).endswith(os.sep):
        return FOLDER
    if Path(path).exists() and not Path(path).is_file():
        return SPECIAL
    return None


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside `path`; on success it replaces `path`, on error it is removed
    and `path` is left untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = refused_target(path)
    if kind is not None:  # never replace a folder or a device
        from dlspec.errors import Diagnostic, DlspecError

        raise DlspecError(Diagnostic("DLS008", f"{path} is {kind}; it is never replaced",
                                     hint="give a file name to write"))
    tmp = temp_path(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def writer_tag() -> str:
    """`dlspec-<host>-<pid>`: what names a temporary file or folder after this process."""
    return f"{MARK}-{HOST}-{os.getpid()}"


def dead_writer(host: str, pid: int) -> bool:
    """Whether the writer `host`, `pid` of a `writer_tag` ran on this machine and is gone."""
    return host == HOST and not running(pid)


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Remove the temporary files in `folder` (not below it) that writers on this machine
    left when they died; the files removed. A file of a live process, of another machine
    (a shared folder) or not named by `temp_path` is left alone."""
    removed = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(folder):
            found = STALE.match(entry.name)
            if (found is None or not entry.is_file(follow_symlinks=False)
                    or not dead_writer(found["host"], int(found["pid"]))):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def running(pid: int) -> bool:
    """Whether a process `pid` exists on this machine (this one always does)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # none, or a number no pid can be
        return False
    except PermissionError:  # another user's
        return True
    return True

"""Reading a spec file, bounded: what `dlspec.spec.load` reads and what the CLI checks
before it imports anything heavy (this module imports only dlspec.errors), with the same
DLS007 errors."""

from __future__ import annotations

import stat
from pathlib import Path

from dlspec.errors import Diagnostic, SourceSpan, SpecError
from dlspec.spec.limits import MAX_BYTES


def _refuse(path: Path, message: str, span: SourceSpan | None = None,
            hint: str | None = None) -> SpecError:
    return SpecError(Diagnostic("DLS007", message, span or SourceSpan(str(path), 1, 1),
                                hint=hint))


def check_spec_file(path: Path) -> None:
    """Raise DLS007 unless `path` is a regular file (or a pipe) of at most MAX_BYTES that
    can be opened. Reads nothing (a pipe is not even opened: it is read once, by
    `read_spec_file`)."""
    limit = f"a spec is at most {MAX_BYTES >> 20} MiB"
    try:
        mode = path.stat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            kind = "a directory" if stat.S_ISDIR(mode) else "a device or socket"
            raise _refuse(path, f"cannot read spec: '{path}' is {kind}, not a file",
                          hint="give the path of a .yaml file")
        if path.stat().st_size > MAX_BYTES:
            raise _refuse(path, f"the file is {path.stat().st_size:_} bytes; {limit}")
        if stat.S_ISREG(mode):
            with path.open("rb"):
                pass
    except OSError as exc:
        raise _refuse(path, f"cannot read spec: {exc.strerror or exc}") from None


def read_spec_file(path: Path) -> str:
    """The text of a spec file. Only a regular file (or a pipe) of at most MAX_BYTES is
    read, and never more than that: `/dev/zero` or a directory is refused before reading.
    A byte that is not UTF-8 is reported at its line and column."""
    limit = f"a spec is at most {MAX_BYTES >> 20} MiB"
    try:
        check_spec_file(path)
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _refuse(path, f"cannot read spec: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise _refuse(path, f"the file is larger than {MAX_BYTES:_} bytes; {limit}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        col = len(data[line_start:exc.start].decode("utf-8", "replace")) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        raise _refuse(path, f"byte 0x{data[exc.start]:02x} is not UTF-8 text",
                      SourceSpan(str(path), line, col),
                      hint="save the file as UTF-8 (specs are UTF-8 text)") from None

"""The source of a weight import: a safetensors file, checked without torch before a
command imports it (never a pickle: a .bin/.pt file is refused with how to convert it)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from dlspec.errors import Diagnostic, DlspecError, SourceSpan

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
MAX_HEADER = 100 << 20  # safetensors' own limit on the JSON header


def unreadable(path: Path, why: str, span: SourceSpan | None = None) -> DlspecError:
    """DLS007 for a weights file that is not safetensors, with how to make one."""
    pickled = path.suffix.lower() in PICKLE_SUFFIXES
    return DlspecError(Diagnostic(
        "DLS007", f"cannot read weights {path}: {why}", span,
        hint="dlspec never loads pickled weights (.bin, .pt); save the state dict with "
             "safetensors.torch.save_file(model.state_dict(), 'model.safetensors')"
        if pickled else "give a .safetensors file"))


def check_safetensors(path: str | Path, span: SourceSpan | None = None) -> list[str]:
    """The tensor names in a safetensors file's header (read without torch); DlspecError
    DLS007 when the file is not a readable safetensors file."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            head = file.read(8)
            if len(head) < 8:
                raise unreadable(path, "too short for a safetensors file", span)
            (size,) = struct.unpack("<Q", head)
            if size > MAX_HEADER:
                raise unreadable(path, "not a safetensors file (its header size is absurd)",
                                 span)
            header = json.loads(file.read(size).decode("utf-8"))
    except OSError as error:
        raise unreadable(path, error.strerror or str(error), span) from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise unreadable(path, "not a safetensors file (its header is not JSON)", span) from None
    if not isinstance(header, dict):
        raise unreadable(path, "not a safetensors file (its header is not a JSON object)", span)
    return [name for name in header if name != "__metadata__"]

"""Per-tensor checksums in a safetensors file's metadata, checked on every load.

safetensors checks a file's header and offsets but not the bytes of its tensors: a flipped
bit in a weight loads silently, and evaluate, export or a resumed run go on with it. Every
checkpoint dlspec writes carries, under the metadata key `dlspec_crc32`, a JSON object
mapping each tensor's name to the CRC-32 of its dtype, shape and bytes (eight hex digits);
loading recomputes them and refuses a file whose tensors do not match (TrainError DLS404
naming the file and the tensors). CRC-32 runs at memory speed and catches every burst of up
to 32 flipped bits, which is what damage on disk or in a copy looks like (it is no defence
against deliberate tampering). Files written before checksums existed have no such key and
load as before.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from pathlib import Path

import torch

from dlspec.errors import Diagnostic, TrainError

KEY = "dlspec_crc32"


def tensor_crc32(tensor: torch.Tensor) -> str:
    """The CRC-32 of a tensor's dtype, shape and bytes, as eight hex digits."""
    tensor = tensor.detach()
    if tensor.device.type != "cpu":
        tensor = tensor.cpu()
    header = f"{tensor.dtype}{tuple(tensor.shape)}".encode()
    crc = zlib.crc32(header)
    if tensor.numel():
        data = tensor.contiguous().reshape(-1).view(torch.uint8).numpy()
        crc = zlib.crc32(data, crc)
    return f"{crc:08x}"


def with_checksums(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]
                   ) -> dict[str, str]:
    """`metadata` with the checksum of every tensor added (what `save_file` is given)."""
    sums = {name: tensor_crc32(tensor) for name, tensor in tensors.items()}
    return {**metadata, KEY: json.dumps(sums, sort_keys=True, separators=(",", ":"))}


def verify_checksums(path: Path, tensors: Mapping[str, torch.Tensor],
                     metadata: Mapping[str, str] | None) -> None:
    """Check the tensors read from `path` against the checksums in its metadata; TrainError
    DLS404 naming the file and every tensor that does not match. Without checksums (a file
    from before them, or from another tool), nothing is checked."""
    if not metadata or KEY not in metadata:
        return
    try:
        stored = json.loads(metadata[KEY])
        if not isinstance(stored, dict):
            raise ValueError("not an object")
    except (ValueError, RecursionError):
        raise _damaged(path, f"its checksum table ({KEY} in the header) is unreadable"
                       ) from None
    bad = sorted(name for name, tensor in tensors.items()
                 if stored.get(name) != tensor_crc32(tensor))
    gone = sorted(set(stored) - set(tensors))
    if bad or gone:
        parts = []
        if bad:
            parts.append(f"the data of {_names(bad)} does not match "
                         f"{'its checksum' if len(bad) == 1 else 'their checksums'}")
        if gone:
            parts.append(f"{_names(gone)} {'is' if len(gone) == 1 else 'are'} missing")
        raise _damaged(path, "; ".join(parts))


def _names(names: list[str]) -> str:
    shown = ", ".join(f"'{name}'" for name in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return f"tensor{'s' if len(names) > 1 else ''} {shown}{more}"


def _damaged(path: Path, why: str) -> TrainError:
    return TrainError(Diagnostic(
        "DLS404", f"checkpoint {path} is damaged: {why}",
        hint="the file changed after dlspec wrote it (a disk or copy error); use another "
             "checkpoint of the run (checkpoints/last.safetensors or best.safetensors), or "
             "train again"))

"""Checkpoints as safetensors files (never pickle), written atomically.

A checkpoint holds the model's state_dict, extra tensors under keys prefixed `_dlspec.`
(e.g. `_dlspec.preprocess.mean`; layer names never start with `_`, so they cannot clash) and
string metadata: dlspec version, spec name and sha256, epoch, step, task, class names and
metrics (the last two as JSON), and a checksum of every tensor, checked on every load
(tensor_checksum.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from dlspec.errors import Diagnostic, TrainError
from dlspec.files import atomic_path, temp_path
from dlspec.train.run_folder.disk_full import no_space_errors
from dlspec.train.run_folder.tensor_checksum import KEY as CHECKSUMS
from dlspec.train.run_folder.tensor_checksum import verify_checksums, with_checksums

EXTRA_PREFIX = "_dlspec."


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint file holds, as CPU tensors and strings."""

    state_dict: dict[str, torch.Tensor]
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


def save_checkpoint(path: Path, state_dict: Mapping[str, torch.Tensor],
                    metadata: Mapping[str, str],
                    extras: Mapping[str, torch.Tensor] | None = None) -> None:
    """Write a safetensors checkpoint to `path` atomically.

    The file is written to a temporary file in the same folder and moved over `path` with
    `os.replace`, so `path` is either the old complete file or the new complete file, never a
    partial one; on failure the temporary file is removed and `path` is untouched. Extras are
    stored under `_dlspec.<name>`.
    """
    _write(Path(path), _storable(state_dict, extras or {}), _checked(metadata))


def _write(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    needed = sum(t.numel() * t.element_size() for t in tensors.values())
    with no_space_errors(path, needed), atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=with_checksums(tensors, metadata))


def copy_checkpoint(source: Path, target: Path) -> None:
    """Make `target` a copy of the checkpoint `source`, atomically.

    A hard link where the file system allows it (instant, and safe because checkpoints are
    only ever replaced, never modified in place), else a byte copy.
    """
    source, target = Path(source), Path(target)
    if not target.exists():
        with contextlib.suppress(OSError):  # a new name: link it in one step
            os.link(source, target)
            return
    elif os.path.samefile(source, target):
        return  # already the same file (and renaming a link onto itself would do nothing)
    tmp = temp_path(target)
    try:
        try:
            os.link(source, tmp)
        except OSError:
            with no_space_errors(target, source.stat().st_size):
                shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint` (TrainError DLS404 if unreadable)."""
    path = Path(path)
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (OSError, SafetensorError) as error:
        raise TrainError(Diagnostic(
            "DLS404", f"cannot read checkpoint {path}: {error}",
            hint="pass a .safetensors file written by `dlspec train`")) from error
    verify_checksums(path, tensors, metadata)  # DLS404 naming a damaged tensor
    metadata = {k: v for k, v in metadata.items() if k != CHECKSUMS}
    state = {k: v for k, v in tensors.items() if not k.startswith(EXTRA_PREFIX)}
    extras = {k[len(EXTRA_PREFIX):]: v for k, v in tensors.items() if k.startswith(EXTRA_PREFIX)}
    return Checkpoint(state_dict=state, extras=extras, metadata=dict(metadata))


def apply_checkpoint(model: torch.nn.Module, checkpoint: Checkpoint) -> None:
    """Load the checkpoint's weights into `model`; TrainError DLS404 when they do not fit."""
    own = model.state_dict()
    missing = sorted(set(own) - set(checkpoint.state_dict))
    unexpected = sorted(set(checkpoint.state_dict) - set(own))
    resized = sorted(k for k, v in checkpoint.state_dict.items()
                     if k in own and tuple(v.shape) != tuple(own[k].shape))
    problems = [f"{label}: {', '.join(keys[:5])}" + (" ..." if len(keys) > 5 else "")
                for label, keys in (("missing", missing), ("unexpected", unexpected),
                                    ("different shape", resized)) if keys]
    if problems:
        raise TrainError(Diagnostic(
            "DLS404", "checkpoint does not fit the model (" + "; ".join(problems) + ")",
            hint="use a checkpoint trained from this spec, or retrain"))
    model.load_state_dict(checkpoint.state_dict)


def _checked(metadata: Mapping[str, str]) -> dict[str, str]:
    bad = {k: type(v).__name__ for k, v in metadata.items() if not isinstance(v, str)}
    if bad:
        raise TypeError(f"checkpoint metadata values must be strings, got {bad}")
    return dict(metadata)


def _storable(state_dict: Mapping[str, torch.Tensor], extras: Mapping[str, torch.Tensor],
              snapshot: bool = False) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors that share no memory (safetensors refuses shared storage).

    With `snapshot`, every tensor is a copy, so the originals may change afterwards.
    """
    for name in state_dict:
        if name.startswith(EXTRA_PREFIX):
            raise ValueError(f"state_dict key '{name}' uses the reserved prefix {EXTRA_PREFIX}")
    named = {**state_dict, **{EXTRA_PREFIX + k: v for k, v in extras.items()}}
    seen: set[int] = set()
    tensors = {}
    for name, tensor in named.items():
        tensor = tensor.detach()
        if tensor.device.type != "cpu":
            tensor = tensor.cpu()  # a fresh copy
        elif snapshot or _needs_copy(tensor, seen):
            tensor = tensor.clone(memory_format=torch.contiguous_format)
        seen.add(tensor.untyped_storage().data_ptr())
        tensors[name] = tensor
    return tensors


def _needs_copy(tensor: torch.Tensor, seen: set[int]) -> bool:
    """Whether a CPU tensor shares memory, is a view into a larger buffer, or is strided."""
    storage = tensor.untyped_storage()
    whole = storage.nbytes() == tensor.numel() * tensor.element_size()
    return storage.data_ptr() in seen or not whole or not tensor.is_contiguous()


class CheckpointWriter:
    """Writes checkpoints on one background thread, in the order they were asked for.

    `save` copies the tensors at once (so training may change the weights right after) and
    returns while the thread writes the file; file I/O then overlaps with training. `wait`
    blocks until every write so far is done and re-raises the first failure; a failure also
    surfaces at the next `save` or `copy`. Use it as a context manager so that every write is
    finished (or has failed) when the block is left.
    """

    def __init__(self, max_pending: int = 4):
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dlspec-ckpt")
        self._pending: list[Future] = []
        self._max_pending = max_pending
        self._held: list[tuple[Callable, tuple]] | None = None  # inside `together`

    @contextlib.contextmanager
    def together(self) -> Iterator[CheckpointWriter]:
        """Queue the writes asked for inside the block as one job when it ends, so that every
        snapshot is taken before the first of them starts (none competes with a write)."""
        self._held = []
        try:
            yield self
        finally:
            held, self._held = self._held, None
            if held:
                self._pending.append(self._executor.submit(_run_in_order, held))

    def save(self, path: Path, state_dict: Mapping[str, torch.Tensor],
             metadata: Mapping[str, str],
             extras: Mapping[str, torch.Tensor] | None = None) -> None:
        """Queue an atomic write of a checkpoint (see `save_checkpoint`)."""
        self._settle()
        tensors = _storable(state_dict, extras or {}, snapshot=True)
        self._submit(_write, Path(path), tensors, _checked(metadata))

    def save_with(self, function: Callable[..., None], tensors: Mapping[str, torch.Tensor],
                  *args: object, snapshot: Callable[[Mapping], object] | None = None) -> None:
        """Queue `function(*args, snapshot(tensors))`, the snapshot taken now: by default
        CPU copies of `tensors` (e.g. for a resume checkpoint's writer)."""
        self._settle()
        taken = _storable(tensors, {}, snapshot=True) if snapshot is None else snapshot(tensors)
        self._submit(function, *args, taken)

    def copy(self, source: Path, target: Path) -> None:
        """Queue `copy_checkpoint(source, target)` after the writes queued before it."""
        self._settle()
        self._submit(copy_checkpoint, Path(source), Path(target))

    def wait(self) -> None:
        """Block until every queued write is done; re-raise the first failure."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def close(self) -> None:
        """Finish every queued write (re-raising a failure) and stop the thread."""
        try:
            self.wait()
        finally:
            self._executor.shutdown(wait=True)

    def __enter__(self) -> CheckpointWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _submit(self, function: Callable, *args: object) -> None:
        if self._held is not None:
            self._held.append((function, args))
        else:
            self._pending.append(self._executor.submit(function, *args))

    def _settle(self) -> None:
        """Raise a failed write; bound the snapshots held in memory by waiting."""
        while self._pending and (self._pending[0].done()
                                 or len(self._pending) >= self._max_pending):
            self._pending.pop(0).result()


def _run_in_order(jobs: list[tuple[Callable, tuple]]) -> None:
    for function, args in jobs:
        function(*args)

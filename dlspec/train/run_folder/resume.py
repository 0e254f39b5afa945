"""Resume checkpoints: everything needed to continue a run exactly where it stopped.

A resume checkpoint is one file in the run's checkpoints folder, replaced atomically each
time, plus at an epoch's end a link to that epoch's weights:

    resume.safetensors          every tensor of the state, packed into one buffer per dtype:
                                optimizer moments (one optimizer per update), RNG states, the epoch order, and the
                                model's weights (`model.<key>`) unless they are in the
                                weights file; its header holds, as JSON
                                (`dlspec_resume`), where each tensor lies and the rest:
                                epoch and step, the history so far, early stopping,
                                optimizer hyperparameters, scheduler, loss scaler, the
                                non-finite counters, the RNG states of python and numpy,
                                and the weights file's name
    resume-<step>.weights.safetensors
                                a hard link to that epoch's last.safetensors (a copy where
                                links are not supported), so the weights are written once

The weights link is made first, then resume.safetensors is replaced: that is the commit
point, and older weights links are deleted only after it. A crash at any moment leaves a
complete, consistent previous checkpoint. Nothing is pickled. A run whose result.json
exists is finished and is not resumed.

The header also records the run's spec.yaml and overrides (`run`). Read back, nothing of it
is used before it is checked whole: against a schema (resume_header.py), against the run
folder's spec and overrides, and against the run set up to continue (resume_fit.py); any
mismatch is DLS404 naming the field.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from dlspec.errors import Diagnostic, TrainError
from dlspec.files import atomic_path
from dlspec.train.distributed.strategy import parallel_of
from dlspec.train.engine.steps import EpochState
from dlspec.train.run_folder.checkpoint import copy_checkpoint, load_checkpoint
from dlspec.train.run_folder.disk_full import no_space_errors
from dlspec.train.run_folder.resume_fit import MODEL, check_fits, loading
from dlspec.train.run_folder.resume_header import (
    check_layout,
    damaged,
    parse_header,
    weights_path,
)
from dlspec.train.run_folder.run_dir import RunFiles
from dlspec.train.run_folder.run_spec import check_resumable, identity_difference, run_identity
from dlspec.train.run_folder.state_codec import Layout, decode, encode, unpack
from dlspec.train.run_folder.tensor_checksum import verify_checksums, with_checksums

FORMAT = 3
READS = (2, 3)  # format 2: one optimizer and scheduler, as "optimizer" and "scheduler"
HEADER = "dlspec_resume"  # the header entry holding the JSON state


@dataclass
class Progress:
    """How far a run has come, beyond its tensors."""

    epoch: int = 0  # completed epochs
    step: int = 0  # optimizer steps done
    history: list[dict[str, Any]] = field(default_factory=list)
    partial: EpochState | None = None  # the epoch under way, when saved inside one
    # the history's records as `encode` gives them, so each is encoded once (records hold
    # plain numbers, no tensors)
    encoded: list[Any] = field(default_factory=list, repr=False, compare=False)
    # what the run was started with (run_spec.run_identity), read once from its folder
    identity: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    identified: bool = field(default=False, repr=False, compare=False)

    def encoded_history(self) -> list[Any]:
        """The history as JSON data, encoding only the records added since the last call."""
        done = len(self.encoded)
        self.encoded += [encode(record, {}, f"history.{i}")
                         for i, record in enumerate(self.history[done:], start=done)]
        return self.encoded


def rng_states(generator: torch.Generator) -> dict[str, Any]:
    """The states of every random number generator training draws from."""
    version, words, gauss = random.getstate()  # words: 625 ints below 2**32
    states = {"python": (version, np.array(words, dtype=np.uint32), gauss),
              "numpy": np.random.get_state(),
              "torch": torch.get_rng_state(), "data_order": generator.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any], generator: torch.Generator) -> None:
    """Put every generator back into the state `rng_states` recorded."""
    version, words, gauss = states["python"]
    random.setstate((version, tuple(int(w) for w in words), gauss))
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    generator.set_state(states["data_order"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def capture(run: Any, progress: Progress, generator: torch.Generator, weights: bool = True
            ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The run's whole training state as (JSON data, tensors); the tensors are the live
    ones, so snapshot them before training goes on. Without `weights`, the model's weights
    are left to a weights file (see `write_state`)."""
    parallel = parallel_of(run)  # fsdp: the whole state gathered from the shards
    tensors = {MODEL + k: v for k, v in parallel.model_state(run.model).items()} \
        if weights else {}
    partial = progress.partial
    state = {
        "format": FORMAT, "epoch": progress.epoch, "step": progress.step,
        # a copy: the writer thread serializes it while the next epochs are appended
        "history": list(progress.encoded_history()),
        "partial": None if partial is None else encode(vars(partial), tensors, "partial"),
        "monitor": {k: encode(getattr(run.monitor, k), tensors, k)
                    for k in ("best", "best_epoch", "waited")},
        "guard": encode(run.guard.state_dict(), tensors, "guard"),
        "optimizers": {learner.update.name: encode(parallel.optimizer_state(
                           run.model, learner.optimizer), tensors,
                                                   f"optimizer.{learner.update.name}")
                       for learner in run.learners},
        "schedulers": {learner.update.name: encode(learner.scheduler.state_dict(), tensors,
                                                   f"scheduler.{learner.update.name}")
                       for learner in run.learners if learner.scheduler is not None},
        "scaler": encode(run.precision.state_dict(), tensors, "scaler"),
        "rng": encode(rng_states(generator), tensors, "rng"),
        "run": _identity(run, progress),
    }
    return state, tensors


def _identity(run: Any, progress: Progress) -> dict[str, Any] | None:
    if not progress.identified:
        progress.identity, progress.identified = run_identity(run.files.root), True
    return progress.identity


def write_state(files: RunFiles, state: dict[str, Any], weights: Path | None,
                packed: tuple[dict[str, torch.Tensor], Layout]) -> None:
    """Write a resume checkpoint (see the module docstring) of the state and its tensors as
    `state_codec.pack` gave them. `weights`, a checkpoint of the model's current weights
    (last.safetensors, written just before), is linked in place of writing them again."""
    name = None
    if weights is not None:
        name = f"resume-{state['step']:09d}.weights.safetensors"
        copy_checkpoint(weights, files.checkpoints / name)
    buffers, layout = packed
    header = json.dumps({**state, "weights": name, "layout": layout}, allow_nan=False)
    needed = len(header) + sum(b.numel() * b.element_size() for b in buffers.values())
    with no_space_errors(files.resume, needed), atomic_path(files.resume) as tmp:
        save_file(buffers, str(tmp), metadata=with_checksums(buffers, {HEADER: header}))
    for old in files.checkpoints.glob("resume-*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)


@dataclass(frozen=True)
class SavedState:
    """A resume checkpoint as read back: its JSON data and its tensors (CPU)."""

    data: dict[str, Any]
    tensors: dict[str, torch.Tensor]

    def decoded(self, key: str) -> Any:
        return decode(self.data[key], self.tensors)

    def learner_state(self, update: str) -> tuple[Any, Any]:
        """The optimizer and scheduler states of an update (format 2 had one of each)."""
        if "optimizers" not in self.data:
            return self.decoded("optimizer"), self.decoded("scheduler")
        schedulers = self.data["schedulers"]
        return (decode(self.data["optimizers"][update], self.tensors),
                decode(schedulers[update], self.tensors) if update in schedulers else None)


def _check_records(files: RunFiles, step: int) -> None:
    """The run's CSV files a resumed run continues, read before anything is written:
    DLS419 naming the file and line when one is damaged (not after an epoch has run)."""
    from dlspec.train.run_folder.run_records import read_csv_rows

    for path in (files.metrics_csv, files.grad_norms_csv):
        if path.exists():
            read_csv_rows(path, step)


def read_state(files: RunFiles, finished: bool = False) -> SavedState:
    """The run's last resume checkpoint; TrainError when there is none, it is unreadable or
    the run finished (unless `finished`: a finished run being extended)."""
    check_resumable(files, finished)
    try:
        with safe_open(files.resume, framework="pt") as handle:
            metadata = handle.metadata() or {}
            text = metadata.get(HEADER)
            if text is None:
                raise damaged(files.root, "header", f"missing (no '{HEADER}' entry)")
            data = parse_header(text, files.root)
            if data.get("format") not in READS:
                raise TrainError(Diagnostic(
                    "DLS404", f"the resume checkpoint of {files.root} has format "
                              f"{data.get('format')}, this dlspec reads format {FORMAT}",
                    hint="resume it with the dlspec version that started it"))
            buffers = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        verify_checksums(files.resume, buffers, metadata)  # DLS404 naming a damaged buffer
    except (OSError, ValueError, KeyError, SafetensorError) as error:
        raise TrainError(Diagnostic(
            "DLS404", f"cannot read the resume checkpoint of {files.root}: {error}",
            hint="the run folder was changed by hand; start the run again")) from error
    check_layout(data["layout"], {k: v.numel() if v.dim() == 1 else -1
                                  for k, v in buffers.items()}, files.root)
    _check_identity(files, data)
    _check_records(files, data["step"])
    tensors = unpack(buffers, data["layout"])
    if data["weights"]:
        path = weights_path(files.checkpoints, data["weights"], files.root)
        weights = load_checkpoint(path).state_dict
        tensors |= {MODEL + k: v for k, v in weights.items()}
    return SavedState(data, tensors)


def _check_identity(files: RunFiles, data: dict[str, Any]) -> None:
    """Refuse a checkpoint written by a run with another spec or other overrides than the
    run folder now holds (checkpoints of before format 3 recorded neither)."""
    if data.get("run") is None:
        return
    difference = identity_difference(data["run"], run_identity(files.root))
    if difference is not None:
        raise TrainError(Diagnostic(
            "DLS404", f"the resume checkpoint of {files.root} does not belong to the run in "
                      f"that folder: {difference}",
            hint="put the run's spec.yaml and run.json back as they were (or its own "
                 "checkpoints), or start a new run with the spec you want"))


def restore(run: Any, saved: SavedState, generator: torch.Generator) -> Progress:
    """Load a resume checkpoint into a freshly set-up run; returns its progress. Everything
    is checked to fit the run first (resume_fit.py): DLS404 naming the field if not."""
    check_fits(run, saved)
    root, parallel = run.files.root, parallel_of(run)
    where = "weights" if saved.data.get("weights") else "layout"
    with loading(root, where):
        parallel.load_model_state(run.model, {k[len(MODEL):]: v for k, v in
                                              saved.tensors.items() if k.startswith(MODEL)})
    for learner in run.learners:
        optimizer, scheduler = saved.learner_state(learner.update.name)
        name = learner.update.name
        with loading(root, f"optimizers.{name}"):
            parallel.load_optimizer_state(run.model, learner.optimizer, optimizer)
        if learner.scheduler is not None:
            with loading(root, f"schedulers.{name}"):
                learner.scheduler.load_state_dict(scheduler)
    with loading(root, "scaler"):
        run.precision.load_state_dict(saved.decoded("scaler"))
    run.guard.load_state_dict(saved.decoded("guard"))
    for key, value in saved.decoded("monitor").items():
        setattr(run.monitor, key, value)
    partial = saved.decoded("partial")
    if partial is not None:
        order = partial["order"]
        partial = EpochState(**{**partial, "order": None if order is None
                                else order.to(run.device)})
    with loading(root, "rng"):
        restore_rng_states(saved.decoded("rng"), generator)
    return Progress(epoch=saved.data["epoch"], step=saved.data["step"],
                    history=saved.decoded("history"), partial=partial)


def checkpoint_step(files: RunFiles) -> int | None:
    """The optimizer step of the run's resume checkpoint; None without a readable one."""
    try:
        with safe_open(files.resume, framework="pt") as handle:
            return int(json.loads((handle.metadata() or {})[HEADER])["step"])
    except (OSError, ValueError, KeyError, TypeError, SafetensorError):
        return None

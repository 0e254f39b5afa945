"""Resume checkpoints: everything needed to continue a run exactly where it stopped.

A resume checkpoint is two files in the run's checkpoints folder:

    resume-<step>.safetensors   the model's weights (`model.<key>`) and every other tensor
                                of the state: optimizer moments, RNG states, the epoch order
    resume.json                 the rest as JSON: epoch and step, the history so far, early
                                stopping, optimizer hyperparameters, scheduler, loss scaler,
                                the non-finite counters and the RNG states of python and
                                numpy; it names its tensor file

Each file is written atomically, the tensors first; resume.json is the commit point and
older tensor files are deleted only after it. A crash at any moment leaves a complete,
consistent previous checkpoint. Nothing is pickled.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from dlspec.errors import Diagnostic, TrainError
from dlspec.files import atomic_path, atomic_write_text
from dlspec.train.run_dir import RunFiles
from dlspec.train.state_codec import decode, encode
from dlspec.train.steps import EpochState

FORMAT = 1
MODEL = "model."


@dataclass
class Progress:
    """How far a run has come, beyond its tensors."""

    epoch: int = 0  # completed epochs
    step: int = 0  # optimizer steps done
    history: list[dict[str, Any]] = field(default_factory=list)
    partial: EpochState | None = None  # the epoch under way, when saved inside one


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


def capture(run: Any, progress: Progress, generator: torch.Generator
            ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The run's whole training state as (JSON data, tensors); the tensors are the live
    ones, so snapshot them before training goes on."""
    tensors = {MODEL + k: v for k, v in run.model.state_dict().items()}
    partial = progress.partial
    state = {
        "format": FORMAT, "epoch": progress.epoch, "step": progress.step, "finished": False,
        "history": encode(progress.history, tensors, "history"),
        "partial": None if partial is None else encode(vars(partial), tensors, "partial"),
        "monitor": {k: encode(getattr(run.monitor, k), tensors, k)
                    for k in ("best", "best_epoch", "waited")},
        "guard": encode(run.guard.state_dict(), tensors, "guard"),
        "optimizer": encode(run.optimizer.state_dict(), tensors, "optimizer"),
        "scheduler": None if run.scheduler is None
        else encode(run.scheduler.state_dict(), tensors, "scheduler"),
        "scaler": encode(run.precision.state_dict(), tensors, "scaler"),
        "rng": encode(rng_states(generator), tensors, "rng"),
    }
    return state, tensors


def write_state(files: RunFiles, state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """Write a resume checkpoint (see the module docstring); `tensors` must be CPU copies."""
    name = f"resume-{state['step']:09d}.safetensors"
    with atomic_path(files.checkpoints / name) as tmp:
        save_file(tensors, str(tmp))
    atomic_write_text(files.resume_json, json.dumps({**state, "tensors": name}, allow_nan=False))
    for old in files.checkpoints.glob("resume-*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)


def mark_finished(files: RunFiles) -> None:
    """Record in resume.json that the run is complete (so it is not resumed again)."""
    state = json.loads(files.resume_json.read_text(encoding="utf-8"))
    atomic_write_text(files.resume_json, json.dumps({**state, "finished": True}))


@dataclass(frozen=True)
class SavedState:
    """A resume checkpoint as read back: its JSON data and its tensors (CPU)."""

    data: dict[str, Any]
    tensors: dict[str, torch.Tensor]

    def decoded(self, key: str) -> Any:
        return decode(self.data[key], self.tensors)


def read_state(files: RunFiles) -> SavedState:
    """The run's last resume checkpoint; TrainError when there is none or it is unreadable."""
    if not files.resume_json.exists():
        raise TrainError(Diagnostic(
            "DLS403", f"{files.root} has no resume checkpoint ({files.resume_json} is missing)",
            hint="the run stopped before its first checkpoint; start it again"))
    try:
        data = json.loads(files.resume_json.read_text(encoding="utf-8"))
        tensors = load_file(str(files.checkpoints / data["tensors"]))
    except (OSError, ValueError, KeyError, SafetensorError) as error:
        raise TrainError(Diagnostic(
            "DLS404", f"cannot read the resume checkpoint of {files.root}: {error}",
            hint="the run folder was changed by hand; start the run again")) from error
    if data.get("finished"):
        raise TrainError(Diagnostic(
            "DLS403", f"the run in {files.root} already finished (epoch {data['epoch']})",
            hint="there is nothing to resume; train again to start a new run"))
    return SavedState(data, tensors)


def restore(run: Any, saved: SavedState, generator: torch.Generator) -> Progress:
    """Load a resume checkpoint into a freshly set-up run; returns its progress."""
    run.model.load_state_dict({k[len(MODEL):]: v for k, v in saved.tensors.items()
                               if k.startswith(MODEL)})
    run.optimizer.load_state_dict(saved.decoded("optimizer"))
    if run.scheduler is not None:
        run.scheduler.load_state_dict(saved.decoded("scheduler"))
    run.precision.load_state_dict(saved.decoded("scaler"))
    run.guard.load_state_dict(saved.decoded("guard"))
    for key, value in saved.decoded("monitor").items():
        setattr(run.monitor, key, value)
    partial = saved.decoded("partial")
    if partial is not None:
        order = partial["order"]
        partial = EpochState(**{**partial, "order": None if order is None
                                else order.to(run.device)})
    restore_rng_states(saved.decoded("rng"), generator)
    return Progress(epoch=saved.data["epoch"], step=saved.data["step"],
                    history=saved.decoded("history"), partial=partial)

"""Ctrl-C during training: the run stops at the next step, saves a resume checkpoint there
and says how to go on.

While `stop_requests()` is active (on the main thread, unless SIGINT is ignored), the
first SIGINT only sets a flag that the loop reads after each optimizer step and at each
epoch's end; a second SIGINT interrupts at once (KeyboardInterrupt, keeping the last checkpoint). Either way `fit` raises
RunInterrupted, which the command line prints with the exact `--resume` command and exits
with 130 (128 + SIGINT), as shells expect. Torch-free.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class StopRequest:
    """Whether the user asked the run to stop (the first Ctrl-C)."""

    def __init__(self) -> None:
        self.requested = False

    def ask(self, signum: int, frame: object) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: at once
        from dlspec.train.distributed.env import is_main_process

        if is_main_process():  # torchrun sends the signal to every rank: one line, rank 0's
            print("\nstopping after this step (Ctrl-C again to stop at once) ...",
                  file=sys.stderr, flush=True)


@contextlib.contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """A StopRequest set by the first SIGINT while the block runs (only on the main thread;
    elsewhere it is never set); the previous handler is put back afterwards."""
    request = StopRequest()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) == signal.SIG_IGN):  # e.g. `nohup ... &`
        yield request
        return
    previous = signal.signal(signal.SIGINT, request.ask)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)


class Stopped(Exception):
    """Raised inside the loop once it saved its state after a stop request."""


@dataclass
class RunInterrupted(KeyboardInterrupt):
    """Training was interrupted by the user: where it was, and what is left of it (a
    KeyboardInterrupt still, for callers of the API)."""

    run_dir: Path
    epoch: int  # the epoch under way (or the last finished one, at an epoch's end)
    epochs: int
    step: int  # optimizer steps done
    checkpoint_step: int | None  # the step of the resume checkpoint on disk, if any
    removed: bool  # the run had kept nothing, and its folder was removed

    def __post_init__(self) -> None:
        super().__init__(self.message())

    def message(self) -> str:
        where = f"interrupted at epoch {self.epoch}/{self.epochs}, step {self.step}"
        if self.removed:
            return (f"{where}, before the run's first checkpoint: nothing was kept and its "
                    f"folder {self.run_dir} was removed; start it again")
        if self.checkpoint_step is None:
            return (f"{where}; the run folder is {self.run_dir}, but it has no resume "
                    "checkpoint to go on from (see train.checkpoint_every)")
        saved = "saved there" if self.checkpoint_step == self.step else \
            f"the last checkpoint is at step {self.checkpoint_step}"
        return (f"{where} ({saved}); the run folder is {self.run_dir}\n"
                f"resume with: dlspec train --resume {self.run_dir}")

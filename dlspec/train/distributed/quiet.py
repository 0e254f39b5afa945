"""What the processes other than rank 0 write: nothing. They train and evaluate like rank
0, but their reporter and checkpoint writer drop everything (rank 0 writes the run folder,
metrics, TensorBoard and checkpoints; every process holds the same numbers)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from dlspec.train.engine.reporting import Reporter


class SilentReporter(Reporter):
    """A Reporter that writes no file and prints nothing (warnings are kept)."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.console = self.progress = self.norms_csv = self._tensorboard = None
        self.warnings: list[str] = []

    def step(self, *args: Any) -> None:
        return

    def step_loss(self, *args: Any) -> None:
        return

    def step_norms(self, *args: Any) -> None:
        return

    def flush(self) -> None:
        return

    def note(self, message: str) -> None:
        return

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def epoch(self, *args: Any) -> None:
        return

    def final(self, *args: Any) -> None:
        return

    def close(self) -> None:
        return


class NullWriter:
    """A CheckpointWriter that writes nothing."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        return

    def copy(self, *args: Any, **kwargs: Any) -> None:
        return

    def save_with(self, *args: Any, **kwargs: Any) -> None:
        return

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        yield

    def wait(self) -> None:
        return

    def __enter__(self) -> NullWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return

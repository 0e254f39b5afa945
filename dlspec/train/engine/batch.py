"""A split on the device, as training reads it: the model's inputs by name, and the targets.

A batch is the same thing over fewer rows. The model is called with its inputs in the order
the spec declares them (compiled modules take them positionally); a loss term whose `target:`
names an input reads it from `inputs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dlspec.data.types import Split


@dataclass(frozen=True)
class Tensors:
    """Named input tensors (n rows each, in the model's input order) and targets (n rows)."""

    inputs: dict[str, torch.Tensor]
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    @property
    def device(self) -> torch.device:
        return self.y.device

    def rows(self, index: torch.Tensor | slice) -> Tensors:
        """The samples at `index` (a slice or an index tensor)."""
        return Tensors({name: x[index] for name, x in self.inputs.items()}, self.y[index])

    def replace(self, inputs: dict[str, torch.Tensor] | None = None,
                y: torch.Tensor | None = None) -> Tensors:
        """These tensors with some inputs (by name) or the targets replaced."""
        return Tensors({**self.inputs, **(inputs or {})}, self.y if y is None else y)

    def stream(self, indices) -> None:
        """The batches at `indices` are read next: in memory, nothing to prepare (a split of
        files decodes them ahead: streamed.py)."""

    def finite(self) -> bool:
        """Whether every value is finite (NaN or inf in the data explains a NaN loss)."""
        return all(bool(torch.isfinite(t.float()).all()) for t in (*self.inputs.values(), self.y))


def forward(model: torch.nn.Module, batch: Tensors):
    """What the model returns for the batch's inputs."""
    return model(*batch.inputs.values())


def split_tensors(split: Split, device: str | torch.device) -> Tensors:
    """A split's inputs and targets as tensors on `device` (sharing memory on the CPU); a
    split of files (images) is decoded batch by batch as it is read (streamed.py)."""
    if getattr(split, "streamed", False):
        from dlspec.train.engine.streamed import StreamedTensors

        return StreamedTensors(split, device)

    def tensor(array: np.ndarray) -> torch.Tensor:
        array = np.ascontiguousarray(array)
        return torch.from_numpy(array if array.flags.writeable else array.copy()).to(device)

    return Tensors({name: tensor(x) for name, x in split.inputs.items()}, tensor(split.y))

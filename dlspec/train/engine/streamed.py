"""A split decoded while training: `StreamedTensors` has the `Tensors` interface, but its
inputs stay files until a batch of them is asked for.

Batches come from a torch DataLoader (`data.workers` processes, pinned memory on CUDA) over
exactly the index lists the training will ask for, in order: the stepper announces an
epoch's micro-batches (`stream`, from `StepPlan.batches`, so that any order and any sharding
of them apply as they are), and an evaluation's consecutive chunks are recognised from its
first one. Pixels travel as uint8 and are standardized on the device. Decoding is
deterministic, so a run resumed inside an epoch reads the same batches it would have.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import torch

from dlspec.data.image_decode import ImageReadError
from dlspec.data.image_split import ImageSplit
from dlspec.errors import DataError, Diagnostic
from dlspec.train.engine.batch import Tensors

Index = torch.Tensor | slice
SEQUENTIAL_FROM = 16  # a chunk of at least this many samples, asked for out of turn,
# starts a stream of the chunks after it (an evaluation pass); smaller ones are decoded here


class _Images(torch.utils.data.Dataset):
    """The split's images by position, as uint8 (C, H, W) tensors; an error message (str)
    in place of an image that cannot be decoded (raised in the training process)."""

    def __init__(self, split: ImageSplit):
        self.paths, self.image = split.paths, split.reader.image

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor | str:
        try:
            return torch.from_numpy(self.image.decode(str(self.paths[i])))
        except ImageReadError as error:
            return str(error)


def _collate(items: list[torch.Tensor | str]) -> torch.Tensor | str:
    failed = next((item for item in items if isinstance(item, str)), None)
    return failed if failed is not None else torch.stack(items)


def _positions(index: Index, n: int) -> list[int]:
    if isinstance(index, slice):
        return list(range(*index.indices(n)))
    return [int(i) for i in index.tolist()]


def _same(a: Index, b: Index) -> bool:
    if a is b:
        return True
    if isinstance(a, slice) or isinstance(b, slice):
        return isinstance(a, slice) and isinstance(b, slice) and a == b
    return a.shape == b.shape and bool(torch.equal(a.cpu(), b.cpu()))


class _Stream:
    """Batches decoded ahead by a DataLoader, handed out while they are asked for in order."""

    def __init__(self, split: ImageSplit, indices: Sequence[Index], pin: bool):
        self.expected = deque(indices)
        lists = [_positions(index, len(split)) for index in indices]
        workers = split.reader.workers
        loader = torch.utils.data.DataLoader(
            _Images(split), batch_sampler=lists, num_workers=workers, collate_fn=_collate,
            pin_memory=pin, prefetch_factor=4 if workers else None)
        self.batches = iter(loader)

    def take(self, index: Index) -> torch.Tensor | str | None:
        """The next batch when `index` is the one expected next, else None."""
        if not self.expected or not _same(self.expected[0], index):
            return None
        self.expected.popleft()
        return next(self.batches)


class StreamedTensors:
    """An `ImageSplit` as training reads it (the `Tensors` interface), on `device`."""

    def __init__(self, split: ImageSplit, device: str | torch.device):
        self.split = split
        self._device = torch.device(device)
        self.y = torch.from_numpy(np.ascontiguousarray(split.y)).to(self._device)
        reader = split.reader
        self._mean, self._std = (torch.from_numpy(np.array(v, dtype=np.float32))
                                 .reshape(1, -1, 1, 1).to(self._device)
                                 for v in (reader.mean, reader.std))
        self._stream: _Stream | None = None
        self._whole: Tensors | None = None

    def __len__(self) -> int:
        return len(self.split)

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def name(self) -> str:
        return self.split.reader.name

    def stream(self, indices: Sequence[Index]) -> None:
        """Decode ahead the batches at `indices`, which `rows` will be asked for next."""
        self._stream = _Stream(self.split, list(indices), self._device.type == "cuda") \
            if indices else None

    def rows(self, index: Index) -> Tensors:
        """The samples at `index` (a slice or an index tensor), decoded and standardized."""
        pixels = self._stream.take(index) if self._stream is not None else None
        if pixels is None:
            self._stream = None
            if isinstance(index, slice) and len(range(*index.indices(len(self)))) >= \
                    SEQUENTIAL_FROM:
                self.stream(self._chunks_from(index))
                pixels = self._stream.take(index)
            else:
                pixels = _collate(list(_Images(self.split)[i]
                                       for i in _positions(index, len(self))))
        if self._stream is not None and not self._stream.expected:
            self._stream = None  # its workers end
        if isinstance(pixels, str):
            raise DataError(Diagnostic("DLS401", pixels, hint="replace or remove the file"))
        x = (pixels.to(self._device, non_blocking=True).float() - self._mean) / self._std
        return Tensors({self.name: x}, self.y[index])

    def _chunks_from(self, first: slice) -> list[slice]:
        start, stop, _ = first.indices(len(self))
        size = first.stop - start if first.stop is not None else stop - start
        return [slice(a, a + size) for a in range(start, len(self), size)]

    def whole(self) -> Tensors:
        """The whole split decoded (for readers of every sample at once)."""
        if self._whole is None:
            self._whole = self.rows(slice(0, len(self)))
        return self._whole

    @property
    def inputs(self) -> dict[str, torch.Tensor]:
        return self.whole().inputs

    def replace(self, inputs: dict[str, torch.Tensor] | None = None,
                y: torch.Tensor | None = None) -> Tensors:
        return self.whole().replace(inputs, y)

    def finite(self) -> bool:
        """Pixels are finite and the standardization's std is never 0: whether the targets
        and the statistics are finite."""
        return all(bool(torch.isfinite(t.float()).all()) for t in (self._mean, self._std,
                                                                   self.y))

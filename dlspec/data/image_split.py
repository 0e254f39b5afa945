"""Image splits: file paths and labels in memory, pixels decoded only when asked for.

`ImageSplit` keeps `Split`'s contract (`len`, `y`, `inputs`, `x`, `rows`), so every part of
dlspec that takes a split takes it; training reads it through a torch DataLoader
(dlspec/train/engine/streamed.py), a batch at a time. Asking for `inputs` (or `x`) decodes
the whole split, for the few readers that need every sample at once (e.g. a test split for
a reduced-precision export).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from dlspec.data.image_decode import ImageShape


@dataclass(frozen=True)
class ImageReader:
    """How a split's images become the model's input `name`: decoded to `image` and
    standardized per channel with `mean` and `std` ((C,) float32, in pixel units; 0 and 1
    when data.standardize is false), by `workers` processes while training."""

    name: str
    image: ImageShape
    mean: np.ndarray
    std: np.ndarray
    workers: int

    def normalize(self, pixels: np.ndarray) -> np.ndarray:
        """float32 (n, C, H, W) of uint8 pixels (n, C, H, W)."""
        shape = (1, -1, 1, 1)
        return ((pixels.astype(np.float32) - self.mean.reshape(shape))
                / self.std.reshape(shape)).astype(np.float32)


class _DecodedInputs(Mapping):
    """A split's one input by name, decoded on first access (its name costs nothing)."""

    def __init__(self, split: ImageSplit):
        self._split, self._values = split, None

    def __getitem__(self, name: str) -> np.ndarray:
        if name != self._split.reader.name:
            raise KeyError(name)
        if self._values is None:
            reader = self._split.reader
            self._values = reader.normalize(reader.image.decode_many(
                list(self._split.paths), reader.workers))
        return self._values

    def __iter__(self) -> Iterator[str]:
        return iter((self._split.reader.name,))

    def __len__(self) -> int:
        return 1


@dataclass(frozen=True, eq=False)
class ImageSplit:
    """One split of an image dataset: `paths` (n,) and targets `y` shaped for the loss (as
    `Split` says), read by `reader`."""

    paths: np.ndarray
    y: np.ndarray
    reader: ImageReader
    streamed: ClassVar[bool] = True  # training reads it batch by batch (split_tensors)

    def __len__(self) -> int:
        return len(self.y)

    @cached_property
    def inputs(self) -> Mapping[str, np.ndarray]:
        """The model's input by name: the whole split, decoded when its value is first
        read."""
        return _DecodedInputs(self)

    @property
    def x(self) -> np.ndarray:
        return self.inputs[self.reader.name]

    def rows(self, index) -> ImageSplit:
        """The samples at `index` (a slice or an index array), still undecoded."""
        return ImageSplit(self.paths[index], self.y[index], self.reader)

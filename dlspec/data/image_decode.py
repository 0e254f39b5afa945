"""Decoding one image to the model's input, and the per-channel statistics of many.

An image is resized (bilinear) so that it covers the input's height and width, cropped at
its centre, and converted to grayscale (1 channel) or RGB (3): uint8 (C, H, W). Statistics
stream over the images a chunk at a time (decoded by threads: Pillow decodes without the
GIL), so that a set of any size is never held in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

MODES = {1: "L", 3: "RGB"}
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")  # a 16-bit grayscale PNG opens as one
_CHUNK = 256  # images per chunk of the statistics pass


class ImageReadError(Exception):
    """An image that cannot be decoded (its message names the file). One string argument,
    so that a torch DataLoader worker can raise it again in the training process."""


def default_workers() -> int:
    """Decoding processes (or threads) when data.workers is left out: CPUs, at most 4."""
    return min(4, os.cpu_count() or 1)


def _eight_bit(image):
    """A 16-bit grayscale PNG (Pillow's modes I;16 and I) scaled to 8 bits, 0..65535 onto
    0..255: Pillow's own conversion to L clips every value above 255 to white instead."""
    if image.mode not in _SIXTEEN_BIT:
        return image
    from PIL import Image

    wide = np.asarray(image, dtype=np.float64)
    return Image.fromarray(np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8), "L")


@dataclass(frozen=True)
class ImageShape:
    """The model input images are decoded for: (channels, height, width)."""

    channels: int
    height: int
    width: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.channels, self.height, self.width

    def decode(self, path: str) -> np.ndarray:
        """The image at `path` as uint8 (C, H, W); ImageReadError naming it when it cannot
        be decoded."""
        from PIL import Image, ImageOps

        size = (self.width, self.height)
        try:
            with Image.open(path) as image:
                image.draft(MODES[self.channels], size)  # JPEG: decode at a smaller scale
                image = _eight_bit(image).convert(MODES[self.channels])
                if image.size != size:
                    image = ImageOps.fit(image, size, Image.Resampling.BILINEAR)
                pixels = np.asarray(image, dtype=np.uint8)
        except (OSError, ValueError, SyntaxError) as error:
            raise ImageReadError(f"image {path} cannot be decoded: {error}") from None
        if pixels.ndim == 2:  # a writable copy, as torch.from_numpy wants
            return pixels[None].copy()
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))

    def decode_many(self, paths: Sequence[str], workers: int = 0) -> np.ndarray:
        """uint8 (n, C, H, W) of `paths`, decoded by `workers` threads (0: here)."""
        out = np.empty((len(paths), *self.shape), dtype=np.uint8)
        for start, chunk in self._chunks(paths, workers):
            out[start:start + len(chunk)] = chunk
        return out

    def _chunks(self, paths: Sequence[str], workers: int) -> Iterator[tuple[int, np.ndarray]]:
        if workers <= 1:
            for start in range(0, len(paths), _CHUNK):
                yield start, np.stack([self.decode(p) for p in paths[start:start + _CHUNK]])
            return
        with ThreadPoolExecutor(workers) as pool:
            for start in range(0, len(paths), _CHUNK):
                yield start, np.stack(list(pool.map(self.decode, paths[start:start + _CHUNK])))

    def channel_stats(self, paths: Sequence[str], workers: int = 0) -> PixelStats:
        """Per-channel mean and std (float64, (C,)) of the pixels of `paths`, in pixel
        units (0..255), one chunk of images in memory at a time (a constant channel gets
        std 1); and the smallest and largest pixel value."""
        total = np.zeros(self.channels)
        squares = np.zeros(self.channels)
        count, low, high = 0, 255, 0
        for _, chunk in self._chunks(paths, workers):
            values = chunk.transpose(1, 0, 2, 3).reshape(self.channels, -1).astype(np.float64)
            total += values.sum(axis=1)
            squares += np.square(values).sum(axis=1)
            count += values.shape[1]
            low, high = min(low, int(chunk.min())), max(high, int(chunk.max()))
        mean = total / count
        std = np.sqrt(np.maximum(squares / count - np.square(mean), 0.0))
        std[std < 1e-6] = 1.0
        return PixelStats(mean, std, low, high)


@dataclass(frozen=True)
class PixelStats:
    """What `channel_stats` measures."""

    mean: np.ndarray
    std: np.ndarray
    low: int
    high: int

"""Writing samples: a PNG grid a person can look at, or the arrays as .npz.

A .png is a near-square grid (ceil(sqrt(n)) columns) of the samples as images, greyscale for
one channel and RGB for three, with a 1-pixel grey gutter between tiles. Samples are taken
channel-first, as the models make them: (C, H, W) with C 1 or 3, or (H, W); a flat vector is
reshaped to `image_shape`, or to a square when its size is one (64 -> 8x8). Values are mapped
linearly from `value_range` (else the samples' own min and max) to 0..255, out-of-range values
clipped. Small images are enlarged by a whole factor (each pixel a block) so that a tile is at
least `MIN_TILE` pixels wide. A .npz holds `samples`, and any extra arrays given, as they are.

Both are written atomically (dlspec.files): a failure leaves no file, and never a half one in
place of a good one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dlspec.errors import Diagnostic, GenerateError
from dlspec.files import atomic_path

SUFFIXES = (".png", ".npz")
MIN_TILE = 32  # pixels: an 8x8 digit is drawn 4x
GUTTER = 128  # the grey between tiles


def write_samples(samples: np.ndarray, path: str | Path,
                  image_shape: tuple[int, ...] | None = None,
                  value_range: tuple[float, float] | None = None, *,
                  scale: int | None = None,
                  extra: Mapping[str, np.ndarray] | None = None) -> None:
    """Write `samples` (n, *sample shape) to `path`: a .png grid or a .npz archive (see the
    module docstring). `scale`: the enlargement factor of a PNG (default: tiles of at least
    MIN_TILE pixels). Raises GenerateError DLS601 for another suffix, or samples that are
    not images; nothing is written then."""
    path = Path(path)
    samples = np.asarray(samples)
    if path.suffix.lower() not in SUFFIXES:
        raise GenerateError(Diagnostic(
            "DLS601", f"cannot write samples to '{path}': its suffix is "
            f"'{path.suffix or 'none'}'", hint="write a .png grid or a .npz array file"))
    if path.suffix.lower() == ".npz":
        arrays = {"samples": samples, **{k: np.asarray(v) for k, v in (extra or {}).items()}}
        with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as file:
            np.savez(file, **arrays)
        return
    pixels = grid_pixels(samples, image_shape, value_range, scale)
    from PIL import Image  # matplotlib's own image dependency

    image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels,
                            "L" if pixels.shape[-1] == 1 else "RGB")
    with atomic_path(path, suffix=".png") as tmp:
        image.save(tmp, format="PNG")


def grid_pixels(samples: np.ndarray, image_shape: tuple[int, ...] | None = None,
                value_range: tuple[float, float] | None = None,
                scale: int | None = None) -> np.ndarray:
    """The grid as uint8 pixels (rows, columns, channels)."""
    images = as_images(samples, image_shape)  # (n, H, W, C)
    n, height, width, channels = images.shape
    if not np.isfinite(images).all():
        raise GenerateError(Diagnostic(
            "DLS601", "the samples hold NaN or infinite values: there is no picture of them",
            hint="write them to a .npz to look at them; a model that made them may have "
                 "diverged"))
    tiles = to_bytes(images, value_range)
    scale = scale or max(1, math.ceil(MIN_TILE / max(height, width)))
    tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
    height, width = height * scale, width * scale
    columns = math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1, channels), GUTTER,
                   dtype=np.uint8)
    for index, tile in enumerate(tiles):
        top, left = (index // columns) * (height + 1), (index % columns) * (width + 1)
        grid[top:top + height, left:left + width] = tile
    return grid


def as_images(samples: np.ndarray, image_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Samples as (n, H, W, C) float images, C 1 or 3."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim < 2 or len(samples) == 0:
        raise GenerateError(Diagnostic(
            "DLS601", f"expected a batch of samples (n, ...), got shape {samples.shape}"))
    per_sample = samples.shape[1:]
    if image_shape is None and len(per_sample) == 1:
        side = math.isqrt(per_sample[0])
        image_shape = (side, side) if side * side == per_sample[0] else None
    if image_shape is not None:
        image_shape = tuple(int(size) for size in image_shape)
        if math.prod(image_shape) != math.prod(per_sample):
            raise GenerateError(Diagnostic(
                "DLS601", f"samples of shape {per_sample} ({math.prod(per_sample)} values) "
                f"cannot be drawn as images of shape {image_shape}",
                hint="give the shape of one image: (H, W) or (C, H, W)"))
        samples = samples.reshape(len(samples), *image_shape)
    if samples.ndim == 3:
        return samples[..., None]
    if samples.ndim == 4 and samples.shape[1] in (1, 3):
        return samples.transpose(0, 2, 3, 1)
    raise GenerateError(Diagnostic(
        "DLS601", f"samples of shape {samples.shape[1:]} are not images: a PNG grid takes "
        f"(C, H, W) with 1 or 3 channels, or (H, W)",
        hint="write them to a .npz instead"))


def to_bytes(images: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
    """`images` mapped linearly from `value_range` (else their min and max) to 0..255."""
    low, high = value_range if value_range is not None else (images.min(), images.max())
    span = float(high) - float(low)
    scaled = (images - low) / span if span > 0 else np.zeros_like(images)
    return np.clip(np.rint(scaled * 255), 0, 255).astype(np.uint8)

"""Decoding speed of `data: {images: ...}`: images/s through the training's streamed split
(dlspec/train/engine/streamed.py: a torch DataLoader over the epoch's index lists, resize to
cover + centre crop, uint8 to the device, standardized there) at 1 and 2 worker processes,
and a plain torch DataLoader over the same files (PIL open, convert, resize, to tensor) at 2
workers, all measured in the same run on the same shuffled order.

A folder of synthetic photos (smooth colour gradients with noise, so JPEG has work to do) is
written to a temporary folder first; each configuration reads the whole epoch once after a
warm-up batch, so worker start-up is counted once per epoch as in training.

Measured on this 2-core machine, idle, OMP_NUM_THREADS=1, 1200 JPEG 320x240 -> 3x64x64,
batch 64: streamed 2016 images/s at 1 worker, 3102 at 2 (1.54x); a plain DataLoader 2005 at
2 workers (dlspec 1.55x: Pillow's JPEG draft mode decodes at a reduced scale when the input
is much smaller than the file). On the same machine shared with busy processes (load
average 8.6) the figures were 305, 381 and 209. Run it for your machine's.

Run: OMP_NUM_THREADS=1 python benchmarks/images.py [--images 1200] [--size 320x240]
     [--input 3x64x64] [--format jpeg|png] [--batch 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dlspec.data.image_decode import ImageShape
from dlspec.data.image_split import ImageReader, ImageSplit
from dlspec.train.engine.streamed import StreamedTensors


def write_photos(folder: Path, count: int, size: tuple[int, int], suffix: str) -> list[str]:
    """`count` synthetic photos in two class folders."""
    from PIL import Image

    rng = np.random.default_rng(0)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    paths = []
    for i in range(count):
        folder_i = folder / f"class{i % 2}"
        folder_i.mkdir(parents=True, exist_ok=True)
        phase = rng.uniform(0, 6.28, 3)
        pixels = np.stack([np.sin(6 * xx + 4 * yy + p) for p in phase], axis=-1) * 100 + 128
        pixels += rng.normal(0, 12, pixels.shape)
        path = folder_i / f"{i:05d}{suffix}"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths


def streamed_rate(paths: list[str], image: ImageShape, workers: int, batch: int,
                  order: torch.Tensor) -> float:
    reader = ImageReader("image", image, np.full(image.channels, 128, np.float32),
                         np.full(image.channels, 64, np.float32), workers)
    split = StreamedTensors(ImageSplit(np.asarray(paths, dtype=object),
                                       np.zeros(len(paths), dtype=np.int64), reader), "cpu")
    indices = [order[a:a + batch] for a in range(0, len(paths), batch)]
    split.stream(indices)
    split.rows(indices[0])  # warm-up: the workers have started
    start = time.perf_counter()
    for index in indices[1:]:
        split.rows(index)
    return (len(paths) - len(indices[0])) / (time.perf_counter() - start)


class _Plain(torch.utils.data.Dataset):
    """What one writes by hand: PIL open, convert, resize, to a float tensor."""

    def __init__(self, paths: list[str], image: ImageShape):
        self.paths, self.image = paths, image

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        from PIL import Image, ImageOps

        with Image.open(self.paths[i]) as img:
            img = ImageOps.fit(img.convert("RGB"), (self.image.width, self.image.height))
            return torch.from_numpy(np.asarray(img).transpose(2, 0, 1).copy()).float()


def plain_rate(paths: list[str], image: ImageShape, workers: int, batch: int,
               order: torch.Tensor) -> float:
    lists = [order[a:a + batch].tolist() for a in range(0, len(paths), batch)]
    batches = iter(torch.utils.data.DataLoader(_Plain(paths, image), batch_sampler=lists,
                                               num_workers=workers))
    next(batches)
    start = time.perf_counter()
    for _ in batches:
        pass
    return (len(paths) - len(lists[0])) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1200)
    parser.add_argument("--size", default="320x240", help="source images, WIDTHxHEIGHT")
    parser.add_argument("--input", default="3x64x64", help="the model input, CxHxW")
    parser.add_argument("--format", choices=("jpeg", "png"), default="jpeg")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    image = ImageShape(*(int(v) for v in args.input.split("x")))
    order = torch.randperm(args.images, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as folder:
        paths = write_photos(Path(folder), args.images, size, f".{args.format[:3]}")
        rates = {workers: streamed_rate(paths, image, workers, args.batch, order)
                 for workers in (1, 2)}
        plain = plain_rate(paths, image, 2, args.batch, order)
    print(f"{args.images} {args.format.upper()} {args.size} -> {args.input}, batch "
          f"{args.batch}")
    for workers, rate in rates.items():
        print(f"  dlspec streamed, {workers} worker(s): {rate:8.0f} images/s")
    print(f"  plain DataLoader, 2 workers:  {plain:8.0f} images/s")
    print(f"  2 workers / 1 worker: {rates[2] / rates[1]:.2f}x; dlspec / plain at 2 "
          f"workers: {rates[2] / plain:.2f}x")


if __name__ == "__main__":
    main()

"""Image folders built on the fly for the image tests: scikit-learn's digits rendered to
32x32 PNG files in two colour variants, one folder per class (and the same pixels as arrays,
in the order the folder lists them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# (ink, paper) RGB of the two variants: orange on black, blue on light grey
VARIANTS = (((255, 96, 0), (0, 0, 0)), ((0, 64, 255), (200, 200, 200)))
CNN_SPEC = """\
dlspec: 1
name: cnn-images
params: {{width: 16}}
inputs:
  image: {{shape: [3, 32, 32]}}
model:
  - {{op: conv2d, out_channels: "${{width}}", kernel_size: 3, stride: 2, padding: 1}}
  - {{op: batchnorm2d}}
  - {{op: relu}}
  - {{op: conv2d, out_channels: "${{2 * width}}", kernel_size: 3, stride: 2, padding: 1}}
  - {{op: batchnorm2d}}
  - {{op: relu}}
  - {{op: flatten}}
  - {{op: linear, name: logits, out_features: 10}}
loss: {{op: cross_entropy}}
optimizer: {{op: adamw, lr: 1e-2}}
data: {data}
train: {{epochs: {epochs}, seed: 0, metrics: [accuracy]}}
"""


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits (pixels (1797, 64) 0..16, labels), read from the file it ships
    without importing scikit-learn (seconds on a busy machine)."""
    import importlib.util

    folder = Path(importlib.util.find_spec("sklearn").submodule_search_locations[0])
    table = np.loadtxt(folder / "datasets" / "data" / "digits.csv.gz", delimiter=",")
    return table[:, :-1], table[:, -1].astype(np.int64)


def render(pixels8: np.ndarray, variant: int, size: int = 32) -> np.ndarray:
    """One 8x8 digit (0..16) as a size x size RGB image (uint8, H, W, 3) of a variant."""
    ink, paper = (np.asarray(c, dtype=np.float64) for c in VARIANTS[variant])
    alpha = np.kron(pixels8.reshape(8, 8) / 16.0, np.ones((size // 8, size // 8)))
    return np.round(paper + alpha[..., None] * (ink - paper)).astype(np.uint8)


def digit_folder(root: Path, per_class: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Write root/<digit>/<i>.png for the digits (every one, or `per_class` of each class),
    even samples in variant 0, odd ones in variant 1. Returns their pixels (n, 3, 32, 32)
    uint8 and labels (n,) in the folder's listing order (class, then file name)."""
    from PIL import Image

    pixels, target = load_digits()
    images, labels = [], []
    for digit in range(10):
        folder = root / str(digit)
        folder.mkdir(parents=True)
        chosen = np.flatnonzero(target == digit)[:per_class]
        for i in chosen:
            rgb = render(pixels[i], int(i) % 2)
            Image.fromarray(rgb).save(folder / f"{i:05d}.png", compress_level=1)
            images.append(rgb.transpose(2, 0, 1))
            labels.append(digit)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def write_spec(folder: Path, data: str, epochs: int = 1, name: str = "spec.yaml") -> Path:
    """The CNN spec of the image tests with `data:` (flow YAML) in `folder`."""
    path = folder / name
    path.write_text(CNN_SPEC.format(data=data, epochs=epochs))
    return path

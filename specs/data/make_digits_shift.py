"""Writes digits-shift.npz beside this file, the data of specs/two-input-digits-shift.yaml.

Each of scikit-learn's 1,797 8x8 digits comes twice: with shift 0 and with shift 5. The label
is (digit + shift) mod 10, so it takes both inputs: the image alone tells the label of at
most half the samples (which of two), the shift alone one in ten. Arrays, one row per sample:
`image` uint8 (3594, 1, 8, 8) grey levels 0-16, `shift` uint8 (3594, 1), `y` uint8 (3594,).
Deterministic (no random draw): `python specs/data/make_digits_shift.py` rewrites the same
arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHIFTS = (0, 5)
FILE = Path(__file__).with_name("digits-shift.npz")


def digits_shift() -> dict[str, np.ndarray]:
    """The arrays of digits-shift.npz."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    n = len(digits.target)
    image = np.tile(digits.images.astype(np.uint8)[:, None], (len(SHIFTS), 1, 1, 1))
    shift = np.repeat(np.array(SHIFTS, dtype=np.uint8), n)[:, None]
    y = (np.tile(digits.target, len(SHIFTS)) + shift[:, 0]) % 10
    return {"image": image, "shift": shift, "y": y.astype(np.uint8)}


if __name__ == "__main__":
    np.savez_compressed(FILE, **digits_shift())
    print(f"wrote {FILE}")

"""A small digits run and its fp32 export, for the deploy tests (the fixture is in conftest)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SPEC = Path(__file__).resolve().parents[2] / "specs" / "mlp-digits.yaml"
SMALL = ["hidden=32", "train.epochs=2", "optimizer.lr=0.01"]


@dataclass(frozen=True)
class DigitsRun:
    run: Path
    fp32: Path  # its verified fp32 export


def make_digits_run(folder: Path) -> DigitsRun:
    from dlspec import api

    result = api.train_spec(SPEC, SMALL, out_root=folder, run_name="run", quiet=True)
    fp32 = folder / "fp32.onnx"
    api.export_spec(result.run_dir, fp32)
    return DigitsRun(Path(result.run_dir), fp32)

"""The few-label judge of the shipped contrastive specs, on full runs.

Each spec is trained as `dlspec train` trains it (its own epochs, unless --set shortens
it); then a linear probe (standardized logistic regression) is fitted on 10 labelled train
digits per class, 5 times with different draws, and scored on the test split, on three
representations: the raw pixels, the spec's untrained encoder (the initialization its
run started from) and the trained encoder's `embedding` output. The trained one must beat
both (tests/train/test_objectives_contrastive.py checks it on shortened runs).

Measured (2 shared cores, OMP_NUM_THREADS=1; test split of 359 digits, means of 5 draws):
simclr-digits (50 epochs, 142 s): raw 0.879, untrained 0.890, trained 0.950;
triplet-digits (20 epochs, 29 s): raw 0.879, untrained 0.838, trained 0.987.

Run: OMP_NUM_THREADS=1 python benchmarks/contrastive_probe.py [--spec simclr-digits]
     [--set train.epochs=15]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dlspec.api import train_spec
from dlspec.train.scoring.probe import encoder_probes

SPECS = Path(__file__).resolve().parents[1] / "specs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", action="append", help="a spec of specs/ (default: both)")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args()
    for name in args.spec or ["simclr-digits", "triplet-digits"]:
        path = SPECS / f"{name}.yaml"
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            result = train_spec(path, args.overrides, out_root=Path(folder), run_name="run",
                                quiet=True)
            seconds = time.perf_counter() - start
            probes = encoder_probes(path, result.last_checkpoint, args.overrides)
        print(f"{name}: {result.epochs_run} epochs in {seconds:.0f} s; "
              f"val {', '.join(f'{k} {v:.4f}' for k, v in result.val_metrics.items())}")
        for kind, probe in probes.items():
            draws = " ".join(f"{a:.4f}" for a in probe.accuracies)
            print(f"  {kind:9} probe accuracy {probe.mean:.4f}  (draws: {draws})")


if __name__ == "__main__":
    main()

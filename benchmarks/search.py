"""TPE against random search on mlp-digits: the median best validation loss over a few seeds.

specs/mlp-digits.yaml gets a `search:` section over four values (learning rate, width,
dropout, weight decay; the learning rate and weight decay on a log scale) and short runs:
by default 2 epochs and a validation split of 40% (719 digits: with the spec's 10%, 180
digits, the best val_loss of a study is within the noise of one trial to the next, and any
sampler's best is luck). Each sampler runs TRIALS trials per seed, on the same seeds (TPE's
first 10 trials are random, from its seed); a sampler's score for a seed is the best
val_loss of its study. Prints each seed's best, the median per sampler and the time; asserts
nothing.

Measured (2 shared cores, OMP_NUM_THREADS=1, optuna 5.1, TPE multivariate; ~2 min):
  defaults, seeds 0-4:  random median best val_loss 0.6316 (0.6052 0.6316 0.6947 0.6427
  0.5991), TPE 0.5969 (0.5636 0.5996 0.5969 0.5703 0.6199): TPE better on 4 of 5 seeds.
  --set train.epochs=3 (the spec's 10% split), seeds 0-4: random 0.3992, TPE 0.4021 (within
  the noise: TPE better on 2 seeds, worse on 2, equal on 1).

Run: OMP_NUM_THREADS=1 python benchmarks/search.py [--trials 30] [--seeds 0 1 2 3 4]
     [--set train.epochs=2 --set "data.split=[0.5, 0.4, 0.1]"] [--samplers random tpe]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from dlspec.search.driver import SearchRequest, search

SPEC = Path(__file__).resolve().parents[1] / "specs" / "mlp-digits.yaml"
SEARCH = """
search:
  metric: val_loss
  sampler: {sampler}
  trials: {trials}
  seed: {seed}
  space:
    optimizer.lr: {{float: [1.0e-4, 1.0], log: true}}
    params.hidden: {{int: [8, 256], log: true}}
    params.dropout: {{float: [0.0, 0.6]}}
    optimizer.weight_decay: {{float: [1.0e-6, 1.0e-1], log: true}}
"""


def best_of(sampler: str, seed: int, trials: int, overrides: list[str], folder: Path
            ) -> tuple[float, float]:
    """(best val_loss of the study, seconds)."""
    spec = folder / f"mlp-digits-{sampler}-{seed}.yaml"
    spec.write_text(SPEC.read_text(encoding="utf-8")
                    + SEARCH.format(sampler=sampler, trials=trials, seed=seed),
                    encoding="utf-8")
    start = time.perf_counter()
    outcome = search(SearchRequest(spec, tuple(overrides), study=spec.stem,
                                   out=folder / "studies",
                                   quiet=True, plots=False), said=lambda line: None)
    return outcome.best.value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--set", action="append", dest="overrides", default=None)
    parser.add_argument("--samplers", nargs="+", default=["random", "tpe"])
    args = parser.parse_args()
    overrides = args.overrides or ["train.epochs=2", "data.split=[0.5, 0.4, 0.1]"]
    scores: dict[str, list[float]] = {name: [] for name in args.samplers}
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.seeds:
            for sampler in scores:
                best, seconds = best_of(sampler, seed, args.trials, overrides, Path(folder))
                scores[sampler].append(best)
                print(f"seed {seed}  {sampler:6}  best val_loss {best:.4f}  "
                      f"({args.trials} trials, {seconds:.0f} s)", flush=True)
    for sampler, values in scores.items():
        print(f"{sampler:6}  median best val_loss {statistics.median(values):.4f}  "
              f"(seeds {args.seeds}: {' '.join(f'{v:.4f}' for v in values)})")
    if set(scores) != {"random", "tpe"}:
        return
    tpe, random = statistics.median(scores["tpe"]), statistics.median(scores["random"])
    print(f"TPE {'at least as good as' if tpe <= random else 'worse than'} random: "
          f"{tpe:.4f} vs {random:.4f} median best val_loss ({' '.join(overrides)})")


if __name__ == "__main__":
    main()

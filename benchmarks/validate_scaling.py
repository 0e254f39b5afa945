"""How `dlspec validate` scales with spec size: generated specs of 10 to 10,000 layers.

Prints the time per spec and per layer; linear growth means the per-layer time stays flat.
Run: python benchmarks/validate_scaling.py [--sizes 10 100 1000 10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from dlspec.api import check


def generated_spec(layers: int) -> str:
    """A residual MLP with `layers` layers: blocks of linear + relu + add, then a head."""
    lines = [
        "dlspec: 1", f"name: generated-{layers}", "params: {width: 64}",
        "inputs:", "  x: {shape: [64]}", "model:",
    ]
    for i in range(layers - 1):
        kind = i % 3
        if kind == 0:
            lines.append(f"  - {{op: linear, name: fc{i}, out_features: \"${{width}}\"}}")
        elif kind == 1:
            lines.append(f"  - {{op: relu, name: act{i}}}")
        else:
            lines.append(f"  - {{op: add, name: res{i}, inputs: [act{i - 1}, fc{i - 2}]}}")
    lines.append("  - {op: linear, name: head, out_features: 10}")
    return "\n".join(lines) + "\n"


def time_check(path: Path, repeats: int) -> float:
    check(path)  # warm: imports and caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        check(path)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = []
        for size in args.sizes:
            path = Path(folder) / f"spec-{size}.yaml"
            path.write_text(generated_spec(size))
            seconds = time_check(path, repeats=5 if size <= 1000 else 2)
            rows.append((size, seconds))
    base = rows[0][1] / rows[0][0]
    print(f"{'layers':>8} {'seconds':>9} {'us/layer':>9} {'per-layer vs smallest':>22}")
    for size, seconds in rows:
        per_layer = seconds / size
        print(f"{size:>8} {seconds:>9.4f} {per_layer * 1e6:>9.1f} {per_layer / base:>21.2f}x")
    print(f"python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()

"""What reduced precision costs and buys: each run exported at fp32, fp16, int8 dynamic and int8
static, with its test metrics, file size and ONNX Runtime latency.

    dlspec train specs/mlp-digits.yaml --name mlp --quiet
    dlspec train specs/cnn-digits.yaml --name cnn --quiet
    python benchmarks/precision.py runs/mlp runs/cnn [--threads 1] [--seconds 1]

The fp32 file is exported (and checked against PyTorch) once per run; each reduced file is
made from it as `dlspec export --precision` makes it (dlspec/deploy/precision.py), with no
metric budget, so that every cost is shown rather than refused. Latency is `dlspec bench`'s
(p50 per call, one thread by default so that figures from a shared machine are comparable).
Prints a Markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

VARIANTS = [("fp16", "dynamic"), ("int8", "dynamic"), ("int8", "static")]


def measure_run(run: Path, folder: Path, threads: int, seconds: float) -> list[dict]:
    from dlspec.api import export_spec, load_data
    from dlspec.backends.onnx_runtime import read_metadata
    from dlspec.deploy.accuracy import data_scalers
    from dlspec.deploy.bench import bench_file
    from dlspec.deploy.precision import export_reduced
    from dlspec.passes.check_objective import data_view
    from dlspec.train.run_folder.run_spec import load_run_spec

    fp32 = folder / f"{run.name}-fp32.onnx"
    export_spec(run, fp32)
    checked = load_run_spec(run)
    scalers = data_scalers(load_data(data_view(checked)), checked.graph.inputs)
    files = {"fp32": fp32}
    costs: dict[str, dict] = {}
    for precision, quantization in VARIANTS:
        name = precision if precision == "fp16" else f"int8 {quantization}"
        target = folder / f"{run.name}-{name.replace(' ', '-')}.onnx"
        reduced = load_run_spec(run, [f"export.precision={precision}",
                                      f"export.quantization={quantization}",
                                      "export.max_metric_drop=1e9"])
        report = export_reduced(reduced, fp32, target, scalers)
        files[name] = target
        costs[name] = {c.name: (c.fp32, c.reduced) for c in report.costs}
    rows = []
    for name, path in files.items():
        bench = bench_file(path, [1, 64], run=run, threads=threads, min_seconds=seconds)
        ort = bench.results["onnxruntime"]
        metrics = costs.get(name) or {k: (v[0], v[0]) for k, v in
                                      next(iter(costs.values())).items()}
        rows.append({"run": checked.spec.name, "precision": name,
                     "metrics": metrics, "size": path.stat().st_size,
                     "p50_1": ort[1].p50_ms, "p50_64": ort[64].p50_ms,
                     "throughput_64": ort[64].throughput,
                     "torch_p50_1": bench.results["pytorch"][1].p50_ms,
                     "torch_p50_64": bench.results["pytorch"][64].p50_ms,
                     "precision_metadata": read_metadata(path)["precision"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for run in args.runs:
            rows += measure_run(run, Path(folder), args.threads, args.seconds)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| spec | precision | test metrics (fp32 -> this) | size (bytes) | ORT p50 batch 1 "
          "(ms) | ORT p50 batch 64 (ms) | ORT samples/s at 64 | PyTorch p50 1 / 64 (ms) |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        metrics = ", ".join(f"{k} {a:.4f} -> {b:.4f}" for k, (a, b) in row["metrics"].items())
        print(f"| {row['run']} | {row['precision']} | {metrics} | {row['size']:,} | "
              f"{row['p50_1']:.3f} | {row['p50_64']:.3f} | {row['throughput_64']:,.0f} | "
              f"{row['torch_p50_1']:.3f} / {row['torch_p50_64']:.3f} |")
    print(f"(ONNX Runtime and PyTorch on {args.threads} thread(s), each batch size timed for "
          f"at least {args.seconds:g} s)")


if __name__ == "__main__":
    main()

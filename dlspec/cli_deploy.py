"""`dlspec bench`: how fast an exported file runs (ONNX Runtime, and eager PyTorch beside it
when the run folder is given). The logic is dlspec/deploy/bench.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dlspec.cli import _console, app, reports_errors


@app.command()
@reports_errors
def bench(model: Annotated[Path, typer.Argument(
              exists=True, dir_okay=False, help="An .onnx file from dlspec export.",
              show_default=False)],
          batch: Annotated[str, typer.Option(
              help="Batch sizes, comma-separated.")] = "1,64",
          run: Annotated[Path | None, typer.Option(
              exists=True, file_okay=False,
              help="The run folder the file was exported from: its test samples as inputs, "
                   "and its eager PyTorch model timed beside.")] = None,
          threads: Annotated[int | None, typer.Option(
              min=1, help="Threads of ONNX Runtime (and PyTorch) (default: theirs).")] = None,
          seq: Annotated[int, typer.Option(
              min=1, help="Size of symbolic dims other than the batch (without --run).")] = 16,
          seconds: Annotated[float, typer.Option(
              min=0.0, max=3600.0,
              help="Time each batch size for at least this long.")] = 1.0,
          json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False):
    """ONNX Runtime latency (p50/p90/p99) and throughput of an exported file per batch size."""
    from dlspec.deploy.bench import parse_batches

    try:
        batches = parse_batches(batch)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--batch") from None
    from dlspec.deploy.bench import bench_file

    report = bench_file(model, batches, run=run, threads=threads, seq=seq, min_seconds=seconds)
    if json_:
        print(json.dumps(report.to_json(), indent=2))
        return
    from rich.table import Table

    table = Table(title=f"{model} ({report.precision}); inputs: {report.inputs}")
    for column in ("engine", "batch", "p50 ms", "p90 ms", "p99 ms", "samples/s", "calls"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    for engine, by_batch in report.results.items():
        for size, t in by_batch.items():
            table.add_row(engine, str(size), f"{t.p50_ms:.3f}", f"{t.p90_ms:.3f}",
                          f"{t.p99_ms:.3f}", f"{t.throughput:,.0f}", str(t.calls))
    _console().print(table)

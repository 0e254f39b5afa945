"""`dlspec bench model.onnx`: ONNX Runtime latency percentiles and throughput per batch size,
beside eager PyTorch for the same inputs when the run folder the file came from is given.

Without a run, the inputs are drawn from the file's declared inputs (floats N(0, 1), integers
0, symbolic sizes other than the batch `seq`); with a run, they are the run's test samples as
the file takes them (raw features), repeated up to the batch size, and the PyTorch model is the
run's best checkpoint behind the same standardization the file holds. The file is opened with
`open_session` (its safety checks first); a run that is not the one the file was exported from
(another spec) is refused, DLS512.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlspec.backends.onnx_check import first_line
from dlspec.deploy.accuracy import NUMPY_OF_ONNX
from dlspec.deploy.latency import (
    Latency,
    session_feeds,
    session_latency,
    tile_rows,
    time_calls,
)
from dlspec.errors import Diagnostic, ExportError

INPUT_BYTES_LIMIT = 2 << 30  # the inputs of the largest batch (and PyTorch's copy of them)


@dataclass(frozen=True)
class BenchReport:
    """Latency by engine ("onnxruntime", "pytorch") and batch size."""

    model: str
    precision: str
    inputs: str  # where the inputs came from
    threads: int | None
    results: dict[str, dict[int, Latency]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "precision": self.precision, "inputs": self.inputs,
                "threads": self.threads,
                "results": {engine: {str(b): t.to_json() for b, t in by_batch.items()}
                            for engine, by_batch in self.results.items()}}


def parse_batches(text: str) -> list[int]:
    """'1,64' -> [1, 64]; ValueError naming what is wrong."""
    batches = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise ValueError(f"'{part}' is not a batch size (a whole number >= 1)")
        batches.append(int(part))
    return batches


def bench_file(model: Path, batches: Sequence[int], *, run: Path | None = None,
               threads: int | None = None, seq: int = 16, min_seconds: float = 1.0,
               min_calls: int = 50) -> BenchReport:
    """Time the file (and the run's PyTorch model) at each batch size."""
    from dlspec.backends.onnx_runtime import open_session, read_metadata

    session = open_session(model, intra_op_threads=threads)
    metadata = read_metadata(model)
    # as long as asked (time_calls stops at 10 s unless told otherwise)
    timing = {"min_seconds": min_seconds, "min_calls": min_calls,
              "max_seconds": max(10.0, min_seconds)}
    torch_module = None
    if run is None:
        check_input_bytes(declared_sample_bytes(session, seq), max(batches), "--batch or --seq")
        rows, where = declared_inputs(session, max(batches), seq), "random, as declared"
    else:
        torch_module, rows = run_model(run, metadata, [i.name for i in session.get_inputs()])
        where = f"test split of {run}"
        check_input_bytes(sum(r[:1].nbytes for r in rows.values()), max(batches), "--batch")
    report = BenchReport(str(model), metadata.get("precision", "fp32"), where, threads)
    for engine in ("onnxruntime", "pytorch") if torch_module is not None else ("onnxruntime",):
        try:
            report.results[engine] = (
                {b: session_latency(session, session_feeds(session, rows, b), b, **timing)
                 for b in batches} if engine == "onnxruntime"
                else _torch_latency(torch_module, rows, batches, threads, timing))
        except Exception as exc:  # the model cannot run on these inputs
            shapes = {name: list(r.shape[1:]) for name, r in rows.items()}
            raise bench_error(
                f"{engine} fails on inputs of per-sample shapes {shapes} ({where}): "
                f"{first_line(exc)}",
                hint="a model with a fixed batch or sizes: give --batch and --seq that fit"
                if run is None else None) from exc
    return report


def declared_sample_bytes(session: Any, seq: int) -> int:
    """Bytes of one sample of every input of `session`, as `declared_inputs` makes them."""
    total = 0
    for info in session.get_inputs():
        dims = [d if isinstance(d, int) and d > 0 else seq for d in info.shape[1:]]
        itemsize = np.dtype(NUMPY_OF_ONNX.get(info.type, np.float32)).itemsize
        total += int(np.prod(dims, dtype=object)) * itemsize
    return total


def check_input_bytes(sample_bytes: int, batch: int, options: str) -> None:
    """DLS512 before allocating when `batch` samples would not fit INPUT_BYTES_LIMIT."""
    needed = sample_bytes * batch
    if needed > INPUT_BYTES_LIMIT:
        raise bench_error(
            f"a batch of {batch:,} samples of {sample_bytes:,} bytes needs {needed / 2**30:,.1f} "
            f"GiB of inputs, more than the benchmark's {INPUT_BYTES_LIMIT / 2**30:.0f} GiB",
            hint=f"give a smaller {options}")


def declared_inputs(session: Any, batch: int, seq: int) -> dict[str, np.ndarray]:
    """`batch` rows for every input of `session`: floats N(0, 1), integers 0; symbolic sizes
    other than the first (batch) axis are `seq`."""
    generator = np.random.default_rng(0)
    rows = {}
    for info in session.get_inputs():
        shape = [batch] + [d if isinstance(d, int) and d > 0 else seq for d in info.shape[1:]]
        dtype = NUMPY_OF_ONNX.get(info.type, np.float32)
        rows[info.name] = (generator.standard_normal(shape).astype(dtype)
                           if np.issubdtype(dtype, np.floating) else np.zeros(shape, dtype))
    return rows


def run_model(run: Path, metadata: Mapping[str, str], names: Sequence[str]
              ) -> tuple[Any, dict[str, np.ndarray]]:
    """The run's best weights as an eager module taking what the file takes, and the run's
    test inputs as the file takes them. DLS512 when the file is not from this run's spec."""
    from dlspec.api import compile_module, load_data
    from dlspec.api_export import load_weights
    from dlspec.deploy.accuracy import data_scalers, raw_inputs
    from dlspec.passes.check_objective import data_view
    from dlspec.train.run_folder.run_spec import load_run_spec

    checked = load_run_spec(run)
    recorded = metadata.get("spec_sha256")
    if recorded is not None and recorded != checked.loaded.sha256:
        raise bench_error(f"{run} trained spec {checked.spec.name} "
                          f"(sha256 {checked.loaded.sha256[:12]}), but the file was exported "
                          f"from {metadata.get('spec_name', '?')} (sha256 {recorded[:12]})",
                          hint="give the run folder the file was exported from, or leave "
                               "--run out")
    graph = checked.graph
    if list(graph.inputs) != list(names):
        raise bench_error(f"the file takes {list(names)}, the run's model "
                          f"{list(graph.inputs)}", hint="leave --run out")
    module, _ = load_weights(compile_module(checked), run, None, True, graph.inputs)
    module.eval()
    data = load_data(data_view(checked))
    split = data.test if len(data.test) else data.train
    return module, raw_inputs(split, data_scalers(data, graph.inputs))


def _torch_latency(module: Any, rows: Mapping[str, np.ndarray], batches: Sequence[int],
                   threads: int | None, timing: Mapping[str, float]) -> dict[int, Latency]:
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        results = {}
        with torch.inference_mode():
            for b in batches:
                args = [torch.from_numpy(tile_rows(r, b)) for r in rows.values()]
                results[b] = time_calls(lambda args=args: module(*args), b, **timing)
        return results
    finally:
        torch.set_num_threads(before)


def bench_error(message: str, hint: str | None = None) -> ExportError:
    """DLS512: the benchmark cannot run."""
    return ExportError(Diagnostic("DLS512", message, hint=hint))

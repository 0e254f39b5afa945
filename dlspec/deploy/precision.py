"""`dlspec export --precision fp16|int8`: from the verified fp32 file to a reduced one that is
written only when its metrics on the test split stay within `export.max_metric_drop`.

The fp32 export is checked as always (ONNX Runtime against PyTorch, element by element). A
reduced file cannot match elementwise, so its check is the one that matters to a user: each
metric of the fp32 file and of the reduced file on the test split, side by side, within the
budget. The written file records in its metadata `precision`, `quantization` (int8),
`accuracy_cost` (per metric: fp32, reduced, drop, budget), `size_bytes` (of the fp32 file and
of itself) and `latency_ms` (ONNX Runtime p50 at batch 1 and 64, fp32 and reduced).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dlspec.deploy.accuracy import MetricCost, budget_error, metric_costs, onnx_module, raw_inputs
from dlspec.deploy.latency import Latency, session_feeds, session_latency
from dlspec.deploy.reduce import calibration_feeds, reduce_error, reduce_model
from dlspec.errors import Diagnostic, DlspecError, ExportError

LATENCY_BATCHES = (1, 64)


@dataclass(frozen=True)
class PrecisionReport:
    """What a reduced export measured."""

    precision: str
    quantization: str | None
    split: str
    samples: int
    costs: tuple[MetricCost, ...]
    size_bytes: dict[str, int]  # "fp32" and the precision -> file size
    latency: dict[str, dict[int, Latency]]  # "fp32" and the precision -> batch -> latency

    def lines(self) -> list[str]:
        """The report, one line each: metrics, size, latency."""
        p = self.precision
        out = [f"{p} accuracy cost on the {self.split} split ({self.samples} samples):"]
        out += [f"  {cost.text(p)}" for cost in self.costs]
        sizes = self.size_bytes
        out.append(f"  size {sizes['fp32']:,} bytes (fp32) -> {sizes[p]:,} bytes ({p}), "
                   f"{sizes[p] / sizes['fp32']:.0%}")
        for batch in LATENCY_BATCHES:
            before, after = self.latency["fp32"][batch], self.latency[p][batch]
            out.append(f"  ONNX Runtime latency at batch {batch}: p50 {before.p50_ms:.3f} ms "
                       f"(fp32) -> {after.p50_ms:.3f} ms ({p})")
        return out

    def metadata(self) -> dict[str, str]:
        p = self.precision
        cost = {"split": self.split, "samples": self.samples,
                "metrics": {c.name: c.to_json(p) for c in self.costs}}
        latency = {name: {str(b): round(t.p50_ms, 4) for b, t in by_batch.items()}
                   for name, by_batch in self.latency.items()}
        data = {"precision": p, "accuracy_cost": json.dumps(cost),
                "size_bytes": json.dumps(self.size_bytes), "latency_ms": json.dumps(latency)}
        if self.quantization is not None:
            data["quantization"] = self.quantization
        return data


def export_reduced(checked: Any, fp32_file: Path, output: Path,
                   scalers: Mapping[int, tuple[np.ndarray, np.ndarray]]) -> PrecisionReport:
    """Reduce the verified fp32 export `fp32_file` of `checked` to `checked.spec.export`'s
    precision, measure both on the test split, and write `output` atomically when the drop is
    within budget (else DLS511 and nothing written). `scalers`: the file's (mean, std) by
    input position, for each input it standardizes."""
    import onnx

    from dlspec.api import load_data, recipe_for
    from dlspec.backends.onnx_runtime import open_session
    from dlspec.passes.check_objective import data_view

    config = checked.spec.export
    precision = config.precision
    view = data_view(checked)
    data, recipe = load_data(view), recipe_for(view)
    if not len(data.test):
        raise reduce_error(f"a {precision} export is measured on the test split, which is "
                           f"empty", hint="give data.split a test fraction")
    source = checked.loaded.source
    budget_at = source.span(("export", "max_metric_drop"))
    fp32_model = onnx.load_model(fp32_file, load_external_data=False)
    train_raw = raw_inputs(data.train, scalers)
    reduced = reduce_model(
        fp32_model, precision, quantization=config.quantization, float32_io=config.float32_io,
        calibration=calibration_feeds(train_raw, config.calibration_samples)
        if precision == "int8" and config.quantization == "static" else ())
    with tempfile.TemporaryDirectory(prefix="dlspec-precision-") as folder:
        reduced_file = Path(folder) / f"{precision}.onnx"
        onnx.save_model(reduced, reduced_file)
        sessions = {"fp32": open_session(fp32_file)}
        try:
            sessions[precision] = open_session(reduced_file)
        except ExportError as error:  # e.g. no kernel for an op at this precision
            raise reduce_error(f"ONNX Runtime cannot load the {precision} model: "
                               f"{error.diagnostics[0].message}", hint=_HINTS[precision]
                               ) from error
        try:
            metrics = {name: _test_metrics(session, data, recipe, scalers)
                       for name, session in sessions.items()}
        except DlspecError:
            raise
        except Exception as exc:  # ORT cannot run an op at this precision
            raise reduce_error(f"ONNX Runtime cannot run the {precision} model: "
                               f"{_first_line(exc)}", hint=_HINTS[precision]) from exc
        costs = metric_costs(metrics["fp32"], metrics[precision], config.max_metric_drop,
                             "test", budget_at)
        failed = budget_error(costs, precision, budget_at)
        if failed is not None:
            raise failed
        test_raw = raw_inputs(data.test, scalers)
        latency = {name: {batch: session_latency(session, session_feeds(session, test_raw,
                                                                        batch), batch)
                          for batch in LATENCY_BATCHES}
                   for name, session in sessions.items()}
    report = PrecisionReport(
        precision=precision, quantization=config.quantization if precision == "int8" else None,
        split="test", samples=len(data.test), costs=tuple(costs),
        size_bytes={"fp32": fp32_file.stat().st_size, precision: 0}, latency=latency)
    size = write_with_metadata(reduced, output, report)
    return replace(report, size_bytes={**report.size_bytes, precision: size})


def write_with_metadata(model: Any, output: Path, report: PrecisionReport) -> int:
    """Write `model` with the report's metadata atomically; the recorded size of the file is
    its size as written (found by writing the size until it no longer changes)."""
    from dlspec.backends.onnx_check import save_and_check, set_metadata
    from dlspec.files import atomic_path

    sizes = dict(report.size_bytes)
    size = 0
    for _ in range(5):
        sizes[report.precision] = size
        set_metadata(model, {**report.metadata(), "size_bytes": json.dumps(sizes)})
        new_size = model.ByteSize()
        if new_size == size:
            break
        size = new_size
    with atomic_path(output) as tmp:
        save_and_check(model, str(tmp))  # the serialized proto: ByteSize() bytes
    return Path(output).stat().st_size


def _test_metrics(session: Any, data: Any, recipe: Any,
                  scalers: Mapping[int, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    from dlspec.train.scoring.evaluate import measure

    return measure(onnx_module(session, scalers), data, recipe, "test", "cpu")


def check_reducible(checked: Any, from_layer: str | None, generation: Any,
                    weights: Any) -> None:
    """DLS510 unless the export can be measured on the test split: one supervised model of
    the data, with trained weights, exported whole."""
    from dlspec.passes.check_objective import objective_of

    precision = checked.spec.export.precision
    where = checked.loaded.source.span(("export", "precision"))
    reason = None
    if weights is None:
        reason = "untrained weights score nothing worth keeping"
    elif from_layer is not None:
        reason = "a part of a model (--from) has no metrics of its own"
    elif generation is not None or checked.spec.models is not None \
            or objective_of(checked.spec).op != "supervised":
        reason = "only a supervised model is scored on the test split"
    elif checked.spec.data is None:
        reason = "the spec has no data to measure it on"
    elif not checked.spec.data.split[2]:
        reason = "its data.split gives the test split nothing"
    if reason is not None:
        raise ExportError(Diagnostic(
            "DLS510", f"a {precision} export must be measured against the fp32 one on the "
                      f"test split: {reason}", where,
            hint="export it at fp32 (--precision fp32)"))


_HINTS = {"fp16": "ONNX Runtime has no float16 CPU kernel for one of its ops; try "
                  "--precision int8",
          "int8": "try --precision fp16, or the other export.quantization"}


def _first_line(exc: BaseException) -> str:
    from dlspec.backends.onnx_check import first_line

    return first_line(exc)


"""Timing one model call: latency percentiles and throughput, for ONNX Runtime sessions and
eager PyTorch modules alike (`dlspec bench`, and the latency a reduced export records).

Each measurement warms up first (the first calls allocate and pick kernels), then times
single calls with `time.perf_counter` until it has both `min_calls` calls and `min_seconds`
of them (or `max_seconds` have passed), so fast models get many calls and slow ones at least
a few.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Latency:
    """Milliseconds per call at one batch size, and samples per second."""

    batch: int
    calls: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    throughput: float  # samples per second: batch / mean call time

    def to_json(self) -> dict[str, float | int]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def time_calls(call: Callable[[], object], batch: int, *, warmup: int = 3,
               min_calls: int = 20, min_seconds: float = 0.2,
               max_seconds: float = 10.0) -> Latency:
    """Time `call` (one model call on a batch of `batch` samples) as the module says."""
    for _ in range(warmup):
        call()
    times: list[float] = []
    started = time.perf_counter()
    while True:
        before = time.perf_counter()
        call()
        after = time.perf_counter()
        times.append(after - before)
        spent = after - started
        if (len(times) >= min_calls and spent >= min_seconds) or spent >= max_seconds:
            break
    ms = np.asarray(times) * 1000.0
    mean = float(ms.mean())
    return Latency(batch=batch, calls=len(times), p50_ms=float(np.percentile(ms, 50)),
                   p90_ms=float(np.percentile(ms, 90)), p99_ms=float(np.percentile(ms, 99)),
                   mean_ms=mean, throughput=batch / (mean / 1000.0) if mean > 0 else 0.0)


def session_latency(session: object, feeds: Mapping[str, np.ndarray], batch: int,
                    **timing: float) -> Latency:
    """ONNX Runtime latency of `session` on `feeds` (a batch of `batch` samples)."""
    feeds = dict(feeds)
    return time_calls(lambda: session.run(None, feeds), batch, **timing)  # type: ignore[attr-defined]


def tile_rows(rows: np.ndarray, batch: int) -> np.ndarray:
    """`batch` rows from `rows` (repeated when there are fewer)."""
    if len(rows) >= batch:
        return np.ascontiguousarray(rows[:batch])
    repeats = -(-batch // max(len(rows), 1))
    return np.ascontiguousarray(np.concatenate([rows] * repeats)[:batch])


def session_feeds(session: object, rows: Mapping[str, np.ndarray], batch: int
                  ) -> dict[str, np.ndarray]:
    """`batch` rows of each input, in the dtype the session declares (a float16 input)."""
    from dlspec.deploy.accuracy import NUMPY_OF_ONNX

    types = {i.name: NUMPY_OF_ONNX.get(i.type) for i in session.get_inputs()}  # type: ignore[attr-defined]
    return {name: tile_rows(r, batch).astype(types.get(name) or r.dtype, copy=False)
            for name, r in rows.items()}

"""Micro-batching without HTTP: which requests share an ONNX Runtime call, and what each gets."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from dlspec.serve.batching import MicroBatcher
from dlspec.serve.model import Feeds
from dlspec.serve.schemas import RequestError


class Recorder:
    """A stand-in for the session: doubles its input, records the rows of each call, and
    fails on a negative value (as a model can fail on a bad id)."""

    def __init__(self, gate: threading.Event | None = None):
        self.calls: list[tuple[int, tuple[int, ...]]] = []
        self.gate = gate

    def __call__(self, arrays):
        (x,) = arrays.values()
        if self.gate is not None:
            self.gate.wait(10)
        if (x < 0).any():
            raise RuntimeError("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : index out of range")
        self.calls.append((len(x), x.shape[1:]))
        return [x * 2, x.sum(axis=tuple(range(1, x.ndim)))]


def _feeds(values, width: int = 3) -> Feeds:
    array = np.asarray(values, dtype=np.float32).reshape(-1, width)
    return Feeds({"x": array}, len(array))


def _run(scenario, recorder: Recorder, **options):
    async def main():
        batcher = MicroBatcher(recorder, **{"max_batch": 4, "max_wait_s": 0.05,
                                            "max_queue": 100, **options})
        batcher.start()
        try:
            return await scenario(batcher)
        finally:
            await batcher.stop()

    return asyncio.run(main())


def test_concurrent_requests_share_calls_up_to_max_batch_and_each_gets_its_rows():
    recorder = Recorder()
    feeds = [_feeds([i] * 3) for i in range(10)]

    async def scenario(batcher):
        return await asyncio.gather(*(batcher.submit(f) for f in feeds)), batcher.stats

    results, stats = _run(scenario, recorder)

    assert [rows for rows, _ in recorder.calls] == [4, 4, 2]
    for i, (doubled, total) in enumerate(results):
        np.testing.assert_array_equal(doubled, [[2 * i] * 3])
        np.testing.assert_array_equal(total, [3 * i])
    assert stats.as_dict() == {"requests": 10, "rows": 10, "batches": 3, "failed": 0,
                               "largest_batch_rows": 4, "mean_batch_rows": 3.333}


def test_max_batch_1_runs_each_request_alone():
    recorder = Recorder()

    async def scenario(batcher):
        return await asyncio.gather(*(batcher.submit(_feeds([i] * 3)) for i in range(5)))

    _run(scenario, recorder, max_batch=1)
    assert [rows for rows, _ in recorder.calls] == [1] * 5


def test_requests_of_different_sample_shapes_are_never_concatenated():
    recorder = Recorder()
    feeds = [_feeds([1.0] * 3) if i % 2 else _feeds([1.0] * 4, width=4) for i in range(6)]

    async def scenario(batcher):
        return await asyncio.gather(*(batcher.submit(f) for f in feeds))

    results = _run(scenario, recorder)

    assert sorted(recorder.calls) == [(3, (3,)), (3, (4,))]
    assert [r[0].shape for r in results] == [(1, 4), (1, 3)] * 3


def test_a_request_larger_than_max_batch_runs_alone():
    recorder = Recorder()

    async def scenario(batcher):
        return await asyncio.gather(batcher.submit(_feeds([1] * 30)), batcher.submit(
            _feeds([2] * 3)))

    big, small = _run(scenario, recorder)
    assert [rows for rows, _ in recorder.calls] == [10, 1]
    assert big[0].shape == (10, 3) and small[0].tolist() == [[4, 4, 4]]


def test_a_request_that_fails_the_model_fails_alone():
    recorder = Recorder()

    async def scenario(batcher):
        jobs = [batcher.submit(_feeds([v] * 3)) for v in (1, -1, 2)]
        return await asyncio.gather(*jobs, return_exceptions=True), batcher.stats

    (first, bad, third), stats = _run(scenario, recorder)

    assert first[0].tolist() == [[2, 2, 2]] and third[0].tolist() == [[4, 4, 4]]
    assert isinstance(bad, RequestError) and bad.status == 422
    assert bad.message == ("ONNX Runtime failed on the input: [ONNXRuntimeError] : 2 : "
                           "INVALID_ARGUMENT : index out of range")
    assert [rows for rows, _ in recorder.calls] == [1, 1]  # retried one by one
    assert stats.failed == 1


def test_a_full_queue_refuses_with_503_and_a_stop_answers_every_request():
    gate = threading.Event()
    recorder = Recorder(gate)

    async def main():
        batcher = MicroBatcher(recorder, max_batch=1, max_wait_s=0.0, max_queue=2)
        batcher.start()
        running = asyncio.ensure_future(batcher.submit(_feeds([1] * 3)))
        await asyncio.sleep(0.1)  # the runner took it and waits on the gate
        waiting = [asyncio.ensure_future(batcher.submit(_feeds([2] * 3))) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(RequestError) as refused:
            await batcher.submit(_feeds([3] * 3))
        await batcher.stop()
        gate.set()
        return refused.value, await asyncio.gather(running, *waiting, return_exceptions=True)

    refused, outcomes = asyncio.run(main())

    assert refused.status == 503 and "2 requests are waiting" in refused.message
    assert [(type(o), o.status, o.message) for o in outcomes] == [
        (RequestError, 503, "the server is shutting down")] * 3

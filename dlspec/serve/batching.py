"""Micro-batching: concurrent requests gathered into one ONNX Runtime call.

Requests go into an asyncio queue; a single runner takes the first waiting request, then
everything already queued and whatever arrives within `max_wait_s`, up to `max_batch` rows,
and runs them as one session call on a worker thread (off the event loop). Only requests whose
arrays have the same per-sample shapes are concatenated (`Feeds.key`); the others wait for the
next batch. A request with more rows than `max_batch` runs alone. When a batch fails (one
request's values upset the model), each of its requests is run again alone, so a bad request
fails by itself. `max_batch=1` turns batching off: one request, one call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from dlspec.serve.model import Feeds
from dlspec.serve.schemas import RequestError

RunFn = Callable[[Mapping[str, np.ndarray]], list[np.ndarray]]


@dataclass
class _Job:
    feeds: Feeds
    future: asyncio.Future[list[np.ndarray]]


@dataclass
class BatchStats:
    """Counts since start, for GET /health and the benchmark."""

    requests: int = 0
    rows: int = 0
    batches: int = 0
    failed: int = 0
    largest: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return {"requests": self.requests, "rows": self.rows, "batches": self.batches,
                "failed": self.failed, "largest_batch_rows": self.largest,
                "mean_batch_rows": round(self.rows / self.batches, 3) if self.batches else 0.0}


class MicroBatcher:
    """Gathers submitted feeds into batches and runs them with `run` on one thread."""

    def __init__(self, run: RunFn, *, max_batch: int, max_wait_s: float, max_queue: int):
        self._run_fn, self.max_batch, self.max_wait_s = run, max_batch, max_wait_s
        self.max_queue = max_queue
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._held: deque[_Job] = deque()  # taken from the queue, for a later batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dlspec-ort")
        self._task: asyncio.Task[None] | None = None
        self._current: list[_Job] = []  # the batch being run
        self.stats = BatchStats()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._serve())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            self._held.append(self._queue.get_nowait())
        for job in [*self._current, *self._held]:
            _settle(job, exc=RequestError(503, "the server is shutting down", code=None))
        self._executor.shutdown(wait=False)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def waiting(self) -> int:
        return self._queue.qsize() + len(self._held)

    async def submit(self, feeds: Feeds) -> list[np.ndarray]:
        """The outputs for these feeds' rows, once their batch has run."""
        if not self.running:
            raise RequestError(503, "the model runner is not running", code=None)
        if self.waiting >= self.max_queue:
            raise RequestError(503, f"the server is busy: {self.waiting} requests are "
                               "waiting for the model", code=None,
                               hint="retry shortly, or start the server with more --workers")
        job = _Job(feeds, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(job)
        return await job.future

    async def _serve(self) -> None:
        while True:
            self._current = await self._gather()
            if self._current:
                await self._run(self._current)
            self._current = []

    async def _gather(self) -> list[_Job]:
        """The next batch: the first waiting job and those that fit with it."""
        first = self._held.popleft() if self._held else await self._queue.get()
        batch, rows = [first], first.feeds.rows
        key = first.feeds.key
        for job in list(self._held):
            if rows >= self.max_batch:
                break
            if job.feeds.key == key and rows + job.feeds.rows <= self.max_batch:
                self._held.remove(job)
                batch.append(job)
                rows += job.feeds.rows
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_s
        while rows < self.max_batch:
            job = await self._next(deadline - loop.time())
            if job is None:
                break
            if job.feeds.key != key or rows + job.feeds.rows > self.max_batch:
                self._held.append(job)
                if job.feeds.key == key:
                    break  # this batch is full
                continue
            batch.append(job)
            rows += job.feeds.rows
        return [job for job in batch if not job.future.done()]  # a client may have gone

    async def _next(self, timeout: float) -> _Job | None:
        """A queued job now, or one arriving within `timeout` seconds, else None."""
        with contextlib.suppress(asyncio.QueueEmpty):
            return self._queue.get_nowait()
        if timeout <= 0:
            return None
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    async def _run(self, batch: list[_Job]) -> None:
        """Run the batch as one call and hand each job its rows; on failure, each alone."""
        try:
            outputs = await self._call(batch)
        except Exception as exc:
            if len(batch) == 1:
                self.stats.failed += 1
                _settle(batch[0], exc=_model_failure(exc))
                return
            for job in batch:
                await self._run([job])
            return
        start = 0
        for job in batch:
            end = start + job.feeds.rows
            _settle(job, [output[start:end] for output in outputs])
            start = end

    async def _call(self, batch: list[_Job]) -> list[np.ndarray]:
        names = batch[0].feeds.arrays.keys()
        arrays = {name: batch[0].feeds.arrays[name] if len(batch) == 1 else
                  np.concatenate([job.feeds.arrays[name] for job in batch]) for name in names}
        rows = sum(job.feeds.rows for job in batch)
        loop = asyncio.get_running_loop()
        outputs = await loop.run_in_executor(self._executor, self._run_fn, arrays)
        for output in outputs:
            if len(batch) > 1 and (output.ndim == 0 or len(output) != rows):
                raise ValueError("an output is not one row per sample: it cannot be split")
        stats = self.stats
        stats.requests += len(batch)
        stats.rows += rows
        stats.batches += 1
        stats.largest = max(stats.largest, rows)
        return outputs


def _settle(job: _Job, outputs: list[np.ndarray] | None = None,
            exc: BaseException | None = None) -> None:
    if job.future.done():
        return
    if exc is not None:
        job.future.set_exception(exc)
    else:
        job.future.set_result(outputs or [])


def _model_failure(exc: BaseException) -> RequestError:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[0][:300] if lines else type(exc).__name__
    return RequestError(422, f"ONNX Runtime failed on the input: {reason}", field="body",
                        code="DLS504", hint="check the values against GET /metadata's inputs")

"""Adaptive micro-batching: requests that arrive together are predicted in
one call of the model.

Why: a random forest costs scikit-learn about the same few milliseconds for
one row as for a hundred (input checks, a Python loop over the trees, a
thread pool per call), so sixteen clients each asking for one row cost
sixteen times what one call with their sixteen rows costs. A folded linear
model (`model_service.compiled`) costs microseconds a call: there, gathering
rows costs more than it saves, and `Predictor` leaves batching off
(docs/native-api.md, "Micro-batching").

How, without a timer on the common path:

- A request that finds nothing in flight and nothing waiting is predicted at
  once, alone: a lone request is never delayed.
- A request that arrives while a batch is being predicted waits. When that
  batch is done, everything waiting goes as the next batch (up to
  `max_rows` rows). So the batch size adapts to the load: one row when
  idle, about as many rows as arrived during one predict under load.
- No request waits longer than `max_wait` for its batch to start while a
  second batch may run: after `max_wait` the waiting rows start as a batch
  of their own beside the one in flight (at most `MAX_IN_FLIGHT` at once;
  scikit-learn's tree code releases the GIL, so two threads use two cores).

Each caller gets its own rows back, in its order: a batch is the callers'
arrays stacked in arrival order, and the answer is cut at the same offsets.
Only rows that the decoders accepted reach a batch (a bad request is refused
before it joins one). If the model raises on a batch, each caller's rows are
predicted again on their own, so only a request that fails by itself fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread
import numpy as np

Compute = Callable[[np.ndarray], np.ndarray]

#: Batches predicted at the same time, each in a worker thread.
MAX_IN_FLIGHT = 2


@dataclass
class _Job:
    X: np.ndarray
    done: asyncio.Future[np.ndarray]


@dataclass
class MicroBatcher:
    """Gathers concurrent calls of `compute` (rows in, one output row per
    input row out) into fewer, larger calls. Made per model; used from one
    event loop (each server worker process has its own)."""

    compute: Compute
    max_wait: float = 0.005
    max_rows: int = 256
    _waiting: list[_Job] = field(default_factory=list, init=False)
    _waiting_rows: int = field(default=0, init=False)
    _in_flight: int = field(default=0, init=False)
    _timer: asyncio.TimerHandle | None = field(default=None, init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False)
    #: batches predicted and rows in them, for tests and the log
    batches: int = field(default=0, init=False)
    rows: int = field(default=0, init=False)

    async def __call__(self, X: np.ndarray) -> np.ndarray:
        """`compute(X)`, possibly predicted together with other callers' rows."""
        if len(X) >= self.max_rows:  # a batch by itself: nothing to gain by waiting
            return await anyio.to_thread.run_sync(self.compute, X)
        job = _Job(X, asyncio.get_running_loop().create_future())
        self._waiting.append(job)
        self._waiting_rows += len(X)
        self._schedule()
        return await job.done

    def _schedule(self) -> None:
        if not self._waiting or self._in_flight >= MAX_IN_FLIGHT:
            return  # a batch finishing calls this again
        if self._in_flight == 0 or self._waiting_rows >= self.max_rows:
            self._start()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.max_wait, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self._waiting and self._in_flight < MAX_IN_FLIGHT:
            self._start()

    def _start(self) -> None:
        """Take waiting jobs, oldest first, up to `max_rows` rows (at least
        one job), and predict them as one batch."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        jobs: list[_Job] = []
        rows = 0
        dtype = self._waiting[0].X.dtype
        while self._waiting:
            job = self._waiting[0]
            if jobs and (rows + len(job.X) > self.max_rows or job.X.dtype != dtype):
                break
            jobs.append(self._waiting.pop(0))
            rows += len(job.X)
        self._waiting_rows -= rows
        self._in_flight += 1
        task = asyncio.get_running_loop().create_task(self._run(jobs))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _run(self, jobs: list[_Job]) -> None:
        try:
            await self._predict(jobs)
        finally:
            self._in_flight -= 1
            self._schedule()

    async def _predict(self, jobs: list[_Job]) -> None:
        X = jobs[0].X if len(jobs) == 1 else np.concatenate([job.X for job in jobs])
        try:
            out = await anyio.to_thread.run_sync(self.compute, X)
        except Exception as exc:  # noqa: BLE001 - re-raised to the callers it belongs to
            if len(jobs) == 1:
                _settle(jobs[0], exc=exc)
                return
            await self._one_by_one(jobs)
            return
        self.batches += 1
        self.rows += len(X)
        start = 0
        for job in jobs:
            end = start + len(job.X)
            _settle(job, out[start:end])
            start = end

    async def _one_by_one(self, jobs: list[_Job]) -> None:
        """After a batch failed: each caller's rows alone, so that a request
        that the model cannot predict fails without failing its neighbours."""
        for job in jobs:
            if job.done.done():  # the caller went away
                continue
            try:
                _settle(job, await anyio.to_thread.run_sync(self.compute, job.X))
            except Exception as exc:  # noqa: BLE001 - raised to its caller, whose error it is
                _settle(job, exc=exc)


def _settle(job: _Job, out: np.ndarray | None = None, exc: BaseException | None = None) -> None:
    if job.done.done():  # cancelled: the client disconnected while waiting
        return
    if exc is not None:
        job.done.set_exception(exc)
    else:
        job.done.set_result(out)  # type: ignore[arg-type]

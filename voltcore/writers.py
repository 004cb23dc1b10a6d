"""Batched, off-request-path writers for audit entries, usage events and key last-use times.

Requests only append to an in-memory buffer. A background task writes batches when enough wait
or the flush interval passes. When the database is unreachable the batch stays buffered and is
retried with backoff; the buffer is bounded and anything dropped is counted, never silent.
Closing the writer flushes what is left (graceful shutdown).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from abc import ABC, abstractmethod
from typing import Generic, TypeVar

import asyncpg

from voltcore.db import Conn
from voltcore.metrics import Metrics

log = logging.getLogger(__name__)

T = TypeVar("T")

_MAX_BACKOFF_S = 5.0


class BatchWriter(ABC, Generic[T]):
    name: str = "batch"

    def __init__(
        self,
        pool: asyncpg.Pool,
        metrics: Metrics,
        *,
        interval_s: float = 1.0,
        batch_size: int = 500,
        max_buffered: int = 100_000,
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._interval = interval_s
        self._batch_size = batch_size
        self._buffer: collections.deque[T] = collections.deque()
        self._max = max_buffered
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._writing = 0

    def add(self, item: T) -> None:
        """Queue one item; never blocks and never raises."""
        if len(self._buffer) >= self._max:
            self._buffer.popleft()
            self._metrics.dropped.labels(self.name).inc()
        self._buffer.append(item)
        self._metrics.buffered.labels(self.name).set(len(self._buffer))
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        """Items not yet written: buffered, or in a write that has not committed yet (so that
        `while w.pending: await w.flush()` really waits for the database)."""
        return len(self._buffer) + self._writing

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.name}-writer")

    async def close(self, timeout_s: float = 10.0) -> None:
        """Stop the loop and flush what is buffered, giving up after `timeout_s`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with asyncio.timeout(timeout_s):
                while self._buffer:
                    await self.flush()
        except (TimeoutError, OSError, asyncpg.PostgresError) as err:
            log.error(
                "writer closed with unflushed events",
                extra={"writer": self.name, "pending": len(self._buffer), "error": repr(err)},
            )

    async def flush(self) -> int:
        """Write up to one batch now; returns how many were written. Raises on database errors,
        leaving the batch buffered."""
        async with self._lock:
            batch = [
                self._buffer.popleft() for _ in range(min(self._batch_size, len(self._buffer)))
            ]
            if not batch:
                return 0
            self._writing = len(batch)
            try:
                async with self._pool.acquire() as conn:
                    await self._write(conn, batch)
            except BaseException:
                self._requeue(batch)
                raise
            finally:
                self._writing = 0
            self._metrics.written.labels(self.name).inc(len(batch))
            self._metrics.buffered.labels(self.name).set(len(self._buffer))
            return len(batch)

    def _requeue(self, batch: list[T]) -> None:
        # Back to the front in order; as in add(), what no longer fits is the oldest and is dropped.
        room = max(self._max - len(self._buffer), 0)
        dropped = max(len(batch) - room, 0)
        if dropped:
            self._metrics.dropped.labels(self.name).inc(dropped)
        self._buffer.extendleft(reversed(batch[dropped:]))

    async def _run(self) -> None:
        backoff = self._interval
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await self._wake.wait()
            self._wake.clear()
            try:
                while await self.flush() == self._batch_size:
                    pass
                backoff = self._interval
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
                self._metrics.write_errors.labels(self.name).inc()
                backoff = min(max(backoff, 0.1) * 2, _MAX_BACKOFF_S)
                log.warning(
                    "batch write failed; will retry",
                    extra={"writer": self.name, "error": repr(err), "retry_in_s": backoff},
                )

    @abstractmethod
    async def _write(self, conn: Conn, batch: list[T]) -> None:
        """Store one batch atomically."""

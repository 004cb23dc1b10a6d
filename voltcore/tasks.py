"""Background tasks owned by a cleanup context: created when the context enters, cancelled
and awaited when it leaves, so no loop outlives the resources it uses (the pool, a client).

Usage, inside an aiohttp cleanup context:

    async with background(reconciler.run(), name="forge-reconciler"):
        yield
    kube.close()
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


@contextlib.asynccontextmanager
async def background(*coros: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(c, name=f"{name}-{i}") for i, c in enumerate(coros)]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

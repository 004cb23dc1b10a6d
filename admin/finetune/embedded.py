"""The embedded default's fine-tuning worker: `volt-admin run` keeps one `volt-finetune` child
process beside admin and Spark, restarted if it dies, stopped (its job requeued) on shutdown.
Past one machine, workers run on their own (e.g. as Kubernetes Jobs) and this is not used."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator

from aiohttp import web

from voltcore.tasks import background

log = logging.getLogger(__name__)
RESTART_DELAY_S = 5.0
STOP_TIMEOUT_S = 30.0


async def _supervise(procs: list[asyncio.subprocess.Process]) -> None:
    while True:
        # Same environment (database, data dir, settings): with the embedded database the
        # worker shares the running server rather than starting another.
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "finetune")
        procs[:] = [proc]
        code = await proc.wait()
        log.warning("fine-tuning worker exited; restarting", extra={"returncode": code})
        await asyncio.sleep(RESTART_DELAY_S)


async def worker_ctx(app: web.Application) -> AsyncIterator[None]:
    """Usage: `app.cleanup_ctx.append(worker_ctx)` after the database context."""
    procs: list[asyncio.subprocess.Process] = []
    async with background(_supervise(procs), name="finetune-worker"):
        yield
    for proc in procs:
        if proc.returncode is None:
            proc.terminate()  # SIGTERM: a job in training goes back to the queue
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()

"""The loop every reconciler runs: a pass now and then every `interval_s`, or at once when
woken (a resource was created or deleted). A failing pass is logged and the next one tries
again, so that an outage or a bug in one pass never stops reconciling for good."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import asyncpg

from voltcore.errors import Conflict
from voltcore.versioned import Versioned

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Versioned)
# Peers or the database away: expected now and then, a warning.
TRANSIENT = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Loop:
    """Usage: `loop = Loop("forge", reconciler.reconcile_once, 1.0)`; `await loop.run()` as a
    task; `loop.wake()` to run a pass now."""

    def __init__(self, name: str, run_pass: Callable[[], Awaitable[None]], interval_s: float):
        self.name = name
        self._run_pass = run_pass
        self._interval_s = interval_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self._run_pass()
            except TRANSIENT as err:
                log.warning("reconcile pass failed", extra={"loop": self.name, "error": repr(err)})
            except Exception:
                log.exception("reconcile pass crashed", extra={"loop": self.name})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await self._wake.wait()
            self._wake.clear()


async def each(
    name: str,
    rows: Iterable[R],
    reconcile: Callable[[R], Awaitable[None]],
) -> None:
    """Reconcile every row on its own: one that moved meanwhile (Conflict) waits for the next
    pass, and one that crashes (a bug, a bad row) is logged without holding up the others."""
    for row in rows:
        try:
            await reconcile(row)
        except Conflict:
            continue
        except TRANSIENT:
            raise  # the database or the peer is away: the whole pass is moot
        except Exception:
            log.exception("reconcile crashed", extra={"loop": name, "id": row.id})

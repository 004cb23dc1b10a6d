"""Background loops live exactly as long as the context that owns them."""

from __future__ import annotations

import asyncio

from voltcore.tasks import background


async def test_loops_run_inside_the_context_and_are_cancelled_when_it_leaves() -> None:
    ticks: list[str] = []
    stopped = asyncio.Event()

    async def loop(name: str) -> None:
        try:
            while True:
                ticks.append(name)
                await asyncio.sleep(0.01)
        finally:
            stopped.set()

    async with background(loop("a"), loop("b"), name="probe"):
        await asyncio.sleep(0.05)
        running = {t.get_name() for t in asyncio.all_tasks()}
        assert {"probe-0", "probe-1"} <= running
    assert stopped.is_set() and {"a", "b"} <= set(ticks)
    assert not {"probe-0", "probe-1"} & {t.get_name() for t in asyncio.all_tasks()}

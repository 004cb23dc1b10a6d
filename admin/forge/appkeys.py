"""Forge's place in the admin app: its settings, cluster client and reconciler task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from admin.forge.config import ForgeSettings
from admin.forge.kube import Kube
from admin.forge.reconciler import Reconciler
from voltcore.appkeys import POOL


@dataclass
class Forge:
    settings: ForgeSettings
    kube: Kube
    reconciler: Reconciler
    task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Reconcile now rather than at the next tick (a lease was created or deleted)."""
        self.reconciler.wake()


FORGE = web.AppKey("forge", Forge)
FORGE_SETTINGS = web.AppKey("forge_settings", ForgeSettings)


async def forge_ctx(app: web.Application) -> AsyncIterator[None]:
    """Without a kubeconfig Forge stays off and its endpoints answer 503."""
    settings = app[FORGE_SETTINGS]
    if settings.kubeconfig is None:
        yield
        return
    kube = Kube(settings.kubeconfig)
    reconciler = Reconciler(app[POOL], kube, settings)
    forge = Forge(settings, kube, reconciler, asyncio.create_task(reconciler.run()))
    app[FORGE] = forge
    yield
    assert forge.task is not None
    forge.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await forge.task
    kube.close()

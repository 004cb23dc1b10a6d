"""Forge in the admin app: its settings, routes and the cleanup context that runs its
reconciler (and, when configured, its admission webhook) while the app runs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from admin.forge import routes
from admin.forge.appkeys import FORGE, FORGE_SETTINGS, Forge
from admin.forge.config import ForgeSettings
from admin.forge.kube import Kube
from admin.forge.reconciler import Reconciler
from admin.forge.webhook import serving, webhook_tls
from admin.subsystems import Slot
from voltcore.appkeys import POOL
from voltcore.tasks import background


def install(app: web.Application, settings: ForgeSettings | None = None) -> None:
    """Usage: `install(app)` reads `VOLT_FORGE_*`; without a kubeconfig Forge answers 503."""
    app[FORGE_SETTINGS] = settings or ForgeSettings()
    app[FORGE] = Slot("Forge", "no cluster")
    app.cleanup_ctx.append(forge_ctx)
    app.router.add_routes(routes.routes)


async def forge_ctx(app: web.Application) -> AsyncIterator[None]:
    """Without a kubeconfig Forge stays off and its endpoints answer 503."""
    settings = app[FORGE_SETTINGS]
    if settings.kubeconfig is None:
        yield
        return
    async with running(app, settings):
        yield


@contextlib.asynccontextmanager
async def running(app: web.Application, settings: ForgeSettings) -> AsyncIterator[Forge]:
    """Forge on the cluster of `settings.kubeconfig`: its webhook and reconciler run, and its
    routes answer, inside the block. At start-up (forge_ctx), or later for a cluster that
    becomes ready after the app started (the embedded default's lab)."""
    assert settings.kubeconfig is not None
    kube = Kube(settings.kubeconfig)
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(kube.close)
        ca = None
        if settings.webhook_port is not None:
            tls = webhook_tls(settings)
            await stack.enter_async_context(serving(settings, tls))
            ca = tls.ca_pem
        reconciler = Reconciler(app[POOL], kube, settings, webhook_ca=ca)
        forge = Forge(settings, kube, reconciler.wake)
        await stack.enter_async_context(background(reconciler.run(), name="forge-reconciler"))
        app[FORGE].value = forge
        try:
            yield forge
        finally:
            app[FORGE].value = None

"""Cleanup contexts that give an app its database pool and batched writers, and take them down
in reverse order on shutdown (writers flush before the pool closes)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from voltcore.appkeys import AUDIT, AUTHENTICATOR, KEY_USE, METRICS, POOL, SETTINGS, USAGE
from voltcore.audit import AuditWriter
from voltcore.config import Settings
from voltcore.db import EmbeddedPostgres, Pool, create_pool, migrate
from voltcore.keycache import KeyAuthenticator
from voltcore.keyuse import KeyUseRecorder
from voltcore.usage import UsageWriter

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Pool]:
    """A migrated pool on the configured database, or on the embedded one started for it."""
    embedded = None
    dsn = settings.database_url
    if dsn is None:
        embedded = await EmbeddedPostgres.start(settings.pgdata)
        dsn = embedded.uri
        log.info("embedded postgres running", extra={"pgdata": str(settings.pgdata)})
    try:
        pool = await create_pool(dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
        try:
            await migrate(pool)
            yield pool
        finally:
            await pool.close()
    finally:
        if embedded is not None:
            await embedded.stop()


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    async with open_database(app[SETTINGS]) as pool:
        app[POOL] = pool
        yield


async def writers_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, pool, metrics = app[SETTINGS], app[POOL], app[METRICS]
    interval, batch = settings.flush_interval_s, settings.flush_batch
    audit = AuditWriter(
        pool, metrics, interval_s=interval, batch_size=batch, max_buffered=settings.audit_buffer_max
    )
    usage = UsageWriter(
        pool, metrics, interval_s=interval, batch_size=batch, max_buffered=settings.usage_buffer_max
    )
    key_use = KeyUseRecorder(pool, metrics, interval_s=interval, batch_size=batch)
    app[AUDIT], app[USAGE], app[KEY_USE] = audit, usage, key_use
    for writer in (audit, usage, key_use):
        writer.start()
    yield
    for writer in (audit, usage, key_use):
        await writer.close()


async def auth_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    authenticator = KeyAuthenticator(
        app[POOL],
        trust_domain=settings.trust_domain,
        failed_per_window=settings.failed_auth_per_window,
        failed_window_s=settings.failed_auth_window_s,
    )
    await authenticator.start()
    app[AUTHENTICATOR] = authenticator
    yield
    await authenticator.close()

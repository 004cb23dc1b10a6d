"""Postgres: the embedded server (pgserver) or an external one by URL, the asyncpg pool and
ordered SQL migrations recorded in `schema_migrations`."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger(__name__)

# Arbitrary constant: serialises concurrent migrators (several replicas starting at once).
_MIGRATION_LOCK = 0x766F6C74_0001
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

Pool = asyncpg.Pool
# What a query helper accepts: a bare connection or one checked out of the pool.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


class EmbeddedPostgres:
    """A real PostgreSQL 16 from the pgserver wheel, with its data kept in `pgdata`.

    Usage: `pg = await EmbeddedPostgres.start(path)`; `pg.uri`; `await pg.stop()`.
    """

    def __init__(self, server: Any) -> None:
        self._server = server

    @classmethod
    async def start(cls, pgdata: Path) -> EmbeddedPostgres:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
            warnings.simplefilter("ignore", UserWarning)
            from pgserver import get_server  # lazily: only the embedded default needs it

        def start() -> Any:
            pgdata.mkdir(parents=True, exist_ok=True)
            return get_server(pgdata, cleanup_mode="stop")

        # pgserver blocks (initdb, pg_ctl -w): keep it off the event loop.
        server = await asyncio.to_thread(start)
        return cls(server)

    @property
    def uri(self) -> str:
        return str(self._server.get_uri())

    async def stop(self) -> None:
        await asyncio.to_thread(self._server.cleanup)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=30
    )
    assert pool is not None
    return pool


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files("voltcore.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return found


async def migrate(pool: Pool) -> list[int]:
    """Apply pending migrations in order, each in its own transaction; returns those applied.

    An applied migration whose file has changed since is an error: migrations are append-only.
    """
    applied_now: list[int] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
            done = {r["version"]: r["checksum"] for r in rows}
            for m in load_migrations():
                if m.version in done:
                    if done[m.version] != m.checksum:
                        raise RuntimeError(
                            f"migration {m.version:04d}_{m.name} changed after it was applied"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        """INSERT INTO schema_migrations (version, name, checksum)
                           VALUES ($1, $2, $3)""",
                        m.version,
                        m.name,
                        m.checksum,
                    )
                log.info("applied migration", extra={"version": m.version, "migration": m.name})
                applied_now.append(m.version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied_now
